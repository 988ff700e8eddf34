// lightvlm: the command line front end. Parses the subcommand, which runs as the parse's
// callback, and reports failures: a clear message on stderr and a non-zero exit, never a crash.
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <new>

#include "apps/commands.h"

namespace {

// oneDNN's threads are OpenMP's, and OpenMP reads OMP_WAIT_POLICY once, as its library loads,
// before main. Its default keeps idle OpenMP threads spinning after every product, on the cores
// our own pool needs for the next op: tools/threads_under_load.py measured a 2-thread prefill of
// the SmolLM2-shaped LLaVA at 379 ms with the default against 273 ms passive (and 496 against 525
// ms beside a busy process). So unless the user chose a policy, the process restarts once with
// PASSIVE set.
void RestartWithPassiveOpenMpThreads(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  // Only reached when the restart failed: go on with OpenMP's default, and say so to anything
  // that reads the variable (bench's report).
  unsetenv("OMP_WAIT_POLICY");
}

}  // namespace

int main(int argc, char** argv) {
  RestartWithPassiveOpenMpThreads(argv);
  // Each layer's activations (megabytes in a prefill) are allocated and freed again layer after
  // layer. Left to glibc's defaults, every such buffer is a fresh mapping whose pages fault in
  // and are cleared anew: 14% of a 230-token prefill on a 1.5B model. Served from the heap and
  // kept there instead, the pages are reused (the process's peak stays what it was).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's upper limit for this setting
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"lightvlm: fast vision-language model inference with token reduction"};
  app.set_version_flag("--version", "lightvlm " LIGHTVLM_VERSION);
  app.require_subcommand(1);
  lightvlm::AddRunCommand(app);
  lightvlm::AddInspectCommand(app);
  lightvlm::AddEvalCommand(app);
  lightvlm::AddBenchCommand(app);
  lightvlm::AddKvFidelityCommand(app);
  lightvlm::AddBatchCommand(app);
  lightvlm::AddChatCommand(app);
  lightvlm::AddServeCommand(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const lightvlm::PartialFailure& error) {
    std::cerr << "lightvlm: error: " << error.what() << '\n';
    return lightvlm::kExitPartialFailure;
  } catch (const std::bad_alloc&) {
    std::cerr << "lightvlm: error: out of memory\n";
  } catch (const std::exception& error) {
    std::cerr << "lightvlm: error: " << error.what() << '\n';
  }
  return lightvlm::kExitFailure;
}
