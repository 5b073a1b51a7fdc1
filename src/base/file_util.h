// Small file helpers shared by the modules that read inputs and write outputs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace resnet_cli {

class TemporaryFileRegistration;

// Reads a whole regular file. Throws Error with kind not_found,
// permission_denied, not_a_file, empty_file or io, naming the file.
std::vector<std::uint8_t> read_input_file(const std::filesystem::path& path);

// The first `count` bytes of a regular file (all of it when shorter), to
// tell what it holds. Throws as read_input_file.
std::vector<std::uint8_t> read_file_head(const std::filesystem::path& path,
                                         std::size_t count);

// Whether `path` is a folder, or a link to one (stat follows links).
bool is_folder(const std::string& path);

// Reads all of standard input (for the "-" input).
std::vector<std::uint8_t> read_stdin();

// Whether an atomic write also survives a crash of the machine: synced
// (fsync before the rename), or renamed only (a reader still never sees a
// partial file; after a power cut the file may be empty), for files that can
// be made again and are written by the hundred (explain's overlays).
enum class Durability { kSynced, kRenamedOnly };

// A file written under a temporary name beside its destination and renamed
// over it by commit(), so a failed or interrupted run never leaves a partial
// file where a good one was. Destroying it uncommitted removes the temporary;
// so does a signal the front end handles (temporary_files.h). Several
// threads may each write their own.
class AtomicFile {
 public:
  // Throws Error(kOutput) naming the destination.
  explicit AtomicFile(std::filesystem::path destination,
                      Durability durability = Durability::kSynced);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::filesystem::path& destination() const { return destination_; }
  std::ostream& stream() { return stream_; }
  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flushes and syncs the temporary, so that only the rename is left to
  // commit(): files that must change together are all synced first, then all
  // renamed. Throws Error(kOutput) on any failure (a full disk shows here).
  void sync();
  // Syncs unless sync() did, and renames; throws Error(kOutput) on any
  // failure.
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  std::ofstream stream_;
  Durability durability_;
  bool synced_ = false;
  bool committed_ = false;
  // So that a signal that ends the process removes the temporary too.
  std::unique_ptr<TemporaryFileRegistration> registration_;
};

// Writes `bytes` to `path` through an AtomicFile.
void write_file_atomically(const std::filesystem::path& path,
                           std::string_view bytes,
                           Durability durability = Durability::kSynced);

}  // namespace resnet_cli
