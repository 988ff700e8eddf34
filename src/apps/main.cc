// lightvlm: the command line front end. Parses the subcommand, which runs as the parse's
// callback, and reports failures: a clear message on stderr and a non-zero exit, never a crash.
#include <exception>
#include <iostream>
#include <new>

#include "apps/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"lightvlm: fast vision-language model inference with token reduction"};
  app.require_subcommand(1);
  lightvlm::AddRunCommand(app);
  lightvlm::AddInspectCommand(app);
  lightvlm::AddEvalCommand(app);
  lightvlm::AddBenchCommand(app);
  lightvlm::AddKvFidelityCommand(app);
  lightvlm::AddBatchCommand(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const std::bad_alloc&) {
    std::cerr << "lightvlm: error: out of memory\n";
  } catch (const std::exception& error) {
    std::cerr << "lightvlm: error: " << error.what() << '\n';
  }
  return 1;
}
