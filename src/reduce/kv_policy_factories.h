// One factory per KV policy file; kv_registry.cc maps names to them.
#pragma once

#include <memory>

#include "reduce/kv_policy.h"

namespace lightvlm {

std::unique_ptr<KvPolicy> MakeLightVlmKv(const KvPolicyOptions& options);
std::unique_ptr<KvPolicy> MakeStreamingLlm(const KvPolicyOptions& options);
std::unique_ptr<KvPolicy> MakeHeavyHitterOracle(const KvPolicyOptions& options);
std::unique_ptr<KvPolicy> MakeSnapKv(const KvPolicyOptions& options);
std::unique_ptr<KvPolicy> MakeNoKvCompression(const KvPolicyOptions& options);

}  // namespace lightvlm
