// resnet-cli-docs OUTDIR VERSION SUMMARY: writes the man page and the shell
// completions, generated from the command line that --help describes, into
// OUTDIR. Run by the build (cli/CMakeLists.txt), not installed.
#include <exception>
#include <fstream>
#include <iostream>

#include "command_tree.h"
#include "renderers.h"

namespace {

void write(const std::string& folder, const std::string& name,
           const std::string& text) {
  const std::string path = folder + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw std::runtime_error(path + ": cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace resnet_cli::cli::docs;
  if (argc != 4) {
    std::cerr << "usage: resnet-cli-docs OUTDIR VERSION SUMMARY\n";
    return 2;
  }
  try {
    const CommandDoc top = command_tree();
    write(argv[1], "resnet-cli.1", man_page(top, argv[2], argv[3]));
    write(argv[1], "resnet-cli.bash", bash_completion(top));
    write(argv[1], "_resnet-cli", zsh_completion(top));
    write(argv[1], "resnet-cli.fish", fish_completion(top));
  } catch (const std::exception& e) {
    std::cerr << "resnet-cli-docs: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
