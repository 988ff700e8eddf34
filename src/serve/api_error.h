// An error answered to an API client: its HTTP status and the fields of OpenAI's error object
// ({"error": {"message", "type", "param", "code"}}).
#pragma once

#include <string>

#include "base/error.h"

namespace lightvlm {

class ApiError : public Error {
 public:
  ApiError(int status, std::string code, const std::string& message, std::string param = "")
      : Error(message), status_(status), code_(std::move(code)), param_(std::move(param)) {}

  int status() const { return status_; }
  const std::string& code() const { return code_; }    // "invalid_json", "context_length_exceeded"
  const std::string& param() const { return param_; }  // the request field at fault, or empty
  // OpenAI's error type for the status: "invalid_request_error", "authentication_error", ...
  std::string type() const;
  std::string Json() const;  // the response body

 private:
  int status_;
  std::string code_;
  std::string param_;
};

}  // namespace lightvlm
