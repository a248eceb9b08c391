#include "segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "layout.h"

namespace bip = boost::interprocess;

namespace ab {

struct Segment::Impl {
  bip::shared_memory_object shm;
  bip::mapped_region region;
};

Segment::Segment() = default;
Segment::~Segment() = default;
Segment::Segment(Segment&&) noexcept = default;
Segment& Segment::operator=(Segment&&) noexcept = default;

static SegmentError classify(const bip::interprocess_exception& e) {
  switch (e.get_error_code()) {
    case bip::not_found_error: return SegmentError::kNotFound;
    case bip::security_error: return SegmentError::kPermission;
    case bip::already_exists_error: return SegmentError::kExists;
    default: return SegmentError::kSystem;
  }
}

SegmentError Segment::create(const std::string& name, uint64_t size, mode_t mode, gid_t gid, Segment* out,
                             std::string* message) {
  auto impl = std::make_unique<Impl>();
  try {
    // create_only maps to O_CREAT|O_EXCL: two daemons can never both create.
    impl->shm = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, bip::permissions(mode));
    int fd = impl->shm.get_mapping_handle().handle;
    // The umask may have stripped bits from the create mode; set them exactly.
    if (fchmod(fd, mode) != 0 || (gid != gid_t(-1) && fchown(fd, uid_t(-1), gid) != 0)) {
      *message = "cannot set mode/group of /dev/shm/" + name + ": " + std::strerror(errno);
      bip::shared_memory_object::remove(name.c_str());
      return SegmentError::kPermission;
    }
    impl->shm.truncate(bip::offset_t(size));
    int rc = posix_fallocate(fd, 0, off_t(size));
    if (rc != 0) {
      *message = "cannot allocate " + std::to_string(size) + " bytes for /dev/shm/" + name + ": " + std::strerror(rc);
      bip::shared_memory_object::remove(name.c_str());
      return SegmentError::kSystem;
    }
    impl->region = bip::mapped_region(impl->shm, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    *message = "cannot create /dev/shm/" + name + ": " + e.what();
    SegmentError err = classify(e);
    if (err != SegmentError::kExists) bip::shared_memory_object::remove(name.c_str());
    return err;
  }
  out->data_ = impl->region.get_address();
  out->size_ = impl->region.get_size();
  out->writable_ = true;
  out->impl_ = std::move(impl);
  return SegmentError::kNone;
}

SegmentError Segment::open(const std::string& name, bool writable, Segment* out, std::string* message) {
  auto impl = std::make_unique<Impl>();
  try {
    bip::mode_t m = writable ? bip::read_write : bip::read_only;
    impl->shm = bip::shared_memory_object(bip::open_only, name.c_str(), m);
    bip::offset_t size = 0;
    if (!impl->shm.get_size(size) || size <= 0) {
      *message = "/dev/shm/" + name + " is empty";
      return SegmentError::kTooSmall;
    }
    impl->region = bip::mapped_region(impl->shm, m);
  } catch (const bip::interprocess_exception& e) {
    *message = "cannot open /dev/shm/" + name + ": " + e.what();
    return classify(e);
  }
  out->data_ = impl->region.get_address();
  out->size_ = impl->region.get_size();
  out->writable_ = writable;
  out->impl_ = std::move(impl);
  return SegmentError::kNone;
}

bool Segment::owner(uid_t* uid, mode_t* mode) const {
  if (!impl_) return false;
  struct stat st {};
  if (fstat(impl_->shm.get_mapping_handle().handle, &st) != 0) return false;
  *uid = st.st_uid;
  *mode = st.st_mode & 07777;
  return true;
}

bool Segment::remove(const std::string& name) { return bip::shared_memory_object::remove(name.c_str()); }

std::string data_segment_name(const std::string& ledger) { return ledger + ".v" + std::to_string(kLayoutMajor); }
std::string config_segment_name(const std::string& ledger) { return data_segment_name(ledger) + ".config"; }

bool valid_ledger_name(const std::string& ledger) {
  if (ledger.empty() || ledger.size() > 200 || ledger[0] == '.') return false;
  for (char c : ledger) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string resolve_ledger_name(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("AGENTBUDGET_LEDGER");
  if (env && *env) return env;
  return "agentbudget";
}

}  // namespace ab
