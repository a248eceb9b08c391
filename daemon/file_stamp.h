// What identifies a file's content cheaply: inode, size and modification
// time. Editors replace files by rename (new inode) or rewrite them in place
// (new mtime); either changes the stamp. Polled by the daemon loop once a
// second: simpler and more robust than inotify across renames and bind mounts.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace ab {

struct FileStamp {
  uint64_t inode = 0, size = 0, mtime_ns = 0;
  bool exists = false;
  bool operator==(const FileStamp&) const = default;
};

inline FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  FileStamp f;
  if (path.empty() || stat(path.c_str(), &st) != 0) return f;
  f.exists = true;
  f.inode = st.st_ino;
  f.size = uint64_t(st.st_size);
  f.mtime_ns = uint64_t(st.st_mtim.tv_sec) * 1'000'000'000u + uint64_t(st.st_mtim.tv_nsec);
  return f;
}

}  // namespace ab
