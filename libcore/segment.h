// A POSIX shared-memory object mapped into this process. Boost.Interprocess
// is only the means of creating, opening and mapping it; nothing of Boost
// lives inside the segment.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace ab {

enum class SegmentError {
  kNone,
  kNotFound,    // no such object (daemon never started)
  kPermission,  // exists but this process may not open it
  kExists,      // create: already exists
  kTooSmall,    // smaller than its header claims
  kSystem,      // any other OS error; see message
};

class Segment {
 public:
  Segment();
  ~Segment();
  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;

  // Creates the object with O_EXCL, sets `mode` (whatever the umask) and the
  // group `gid` (unless gid == -1), sizes it and preallocates its pages (so a
  // full /dev/shm fails here, not with SIGBUS on a later store), maps it
  // read-write, zero-filled.
  static SegmentError create(const std::string& name, uint64_t size, mode_t mode, gid_t gid, Segment* out,
                             std::string* message);
  // Opens and maps an existing object; `writable` selects the mapping mode.
  static SegmentError open(const std::string& name, bool writable, Segment* out, std::string* message);
  // Removes the name (existing mappings stay valid). True if it existed.
  static bool remove(const std::string& name);

  // Owner uid and permission bits of the object (fstat), or false.
  bool owner(uid_t* uid, mode_t* mode) const;

  void* data() const { return data_; }
  uint64_t size() const { return size_; }
  bool writable() const { return writable_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  void* data_ = nullptr;
  uint64_t size_ = 0;
  bool writable_ = false;
};

// Segment object names for a ledger name ("agentbudget" -> "agentbudget.v1"
// and "agentbudget.v1.config").
std::string data_segment_name(const std::string& ledger);
std::string config_segment_name(const std::string& ledger);

// True for 1..200 characters of [A-Za-z0-9_.-], not starting with '.'.
bool valid_ledger_name(const std::string& ledger);

// The ledger name a program uses: `flag` if non-empty, else the environment
// variable AGENTBUDGET_LEDGER, else "agentbudget".
std::string resolve_ledger_name(const std::string& flag);

}  // namespace ab
