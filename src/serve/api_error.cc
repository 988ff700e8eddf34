#include "serve/api_error.h"

#include <nlohmann/json.hpp>

namespace lightvlm {

std::string ApiError::type() const {
  switch (status_) {
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 503:
      return "service_unavailable";
    default:
      return status_ >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string ApiError::Json() const {
  nlohmann::json error = {{"message", what()}, {"type", type()}, {"code", code_}};
  error["param"] = param_.empty() ? nlohmann::json(nullptr) : nlohmann::json(param_);
  // Replace: a message quoting a client's invalid bytes must still be valid JSON.
  return nlohmann::json{{"error", error}}.dump(-1, ' ', false,
                                               nlohmann::json::error_handler_t::replace);
}

}  // namespace lightvlm
