#include "snapshot.h"

#include "crash_point.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "clock.h"
#include "pool_period.h"
#include "run_id.h"

namespace ab {

// The payload's head: everything but the runs and pools.
struct SnapshotHead {
  std::string ledger;
  uint32_t layout_major = 0, layout_minor = 0;
  uint64_t written_unix_ns = 0;
};

}  // namespace ab

// Class versions: a later agentbudgetd bumps one and reads the new fields
// only `if (version >= N)`, so it still reads every older file.
CEREAL_CLASS_VERSION(ab::SnapshotHead, 1)
CEREAL_CLASS_VERSION(ab::SnapshotRun, 1)
CEREAL_CLASS_VERSION(ab::SnapshotPool, 1)

namespace ab {

namespace {

// Something in the file that must not be trusted; raised while decoding.
struct BadSnapshot : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr uint32_t kHeadVersion = 1, kRunVersion = 1, kPoolVersion = 1;
constexpr size_t kNameMax = 63;  // policy and pool names (Policy::name, PoolDef::name)

void check_version(uint32_t version, uint32_t known, const char* what) {
  if (version > known)
    throw BadSnapshot(std::string(what) + " record version " + std::to_string(version) +
                      " is newer than this agentbudgetd reads (" + std::to_string(known) +
                      "): written by a newer agentbudgetd");
}

// Strings and lists are read with a bound and element by element, so a
// forged length can neither allocate gigabytes nor read past the payload.
template <class Archive>
void text(Archive& ar, std::string& s, size_t max, const char* what) {
  cereal::size_type n = s.size();
  ar(cereal::make_size_tag(n));
  if constexpr (Archive::is_loading::value) {
    if (n > max)
      throw BadSnapshot(std::string(what) + " is " + std::to_string(n) + " bytes long (at most " + std::to_string(max) +
                        ")");
    s.resize(size_t(n));
  }
  ar(cereal::binary_data(s.data(), size_t(n)));
}

template <class Archive, class T, class Each>
void list(Archive& ar, std::vector<T>& v, size_t max, const char* what, Each each) {
  cereal::size_type n = v.size();
  ar(cereal::make_size_tag(n));
  if constexpr (Archive::is_loading::value) {
    if (n > max)
      throw BadSnapshot(std::string(what) + ": " + std::to_string(n) + " entries (at most " + std::to_string(max) +
                        ")");
    v.clear();
    for (cereal::size_type i = 0; i < n; ++i) each(v.emplace_back());
  } else {
    for (T& x : v) each(x);
  }
}

}  // namespace

template <class Archive>
void serialize(Archive& ar, SnapshotHead& h, const uint32_t version) {
  check_version(version, kHeadVersion, "header");
  text(ar, h.ledger, 255, "ledger name");
  ar(h.layout_major, h.layout_minor, h.written_unix_ns);
}

template <class Archive>
void serialize(Archive& ar, SnapshotRun& r, const uint32_t version) {
  check_version(version, kRunVersion, "run");
  text(ar, r.id, kRunIdMax, "run id");
  text(ar, r.policy, kNameMax, "policy name");
  ar(r.closed, r.begun_unix_ns, r.closed_unix_ns, r.client_hard, r.client_soft);
  for (int64_t& t : r.soft_nanos) ar(t);
  ar(r.max_calls, r.max_in_flight, r.loop_limit, r.max_duration_s, r.max_tokens);
  ar(r.spent, r.overshoot, r.child_spent);
  ar(r.calls, r.input_tokens, r.cached_tokens, r.cache_write_tokens, r.output_tokens, r.reasoning_tokens);
  ar(r.first_charge_unix_ns, r.last_charge_unix_ns);
  ar(r.flags, r.pending_events, r.delivered_events, r.last_denial, r.loop_word);
  text(ar, r.last_denial_pool, kNameMax, "pool name");
  list(ar, r.pools, kMaxRunPools, "run pools", [&](std::string& p) { text(ar, p, kNameMax, "pool name"); });
  list(ar, r.ancestors, kMaxAncestors, "run ancestors", [&](std::string& a) { text(ar, a, kRunIdMax, "run id"); });
}

template <class Archive>
void serialize(Archive& ar, SnapshotPool& p, const uint32_t version) {
  check_version(version, kPoolVersion, "pool");
  text(ar, p.name, kNameMax, "pool name");
  ar(p.period_kind, p.rolling_s, p.total_spent, p.archived_spent);
  ar(p.period_tag, p.base_tag, p.previous_tag, p.period_base, p.previous_spent, p.events, p.delivered);
}

namespace {

// An istream over bytes we do not own (no copy of a large payload).
struct ViewBuf : std::streambuf {
  explicit ViewBuf(std::string_view v) {
    char* p = const_cast<char*>(v.data());  // only ever read
    setg(p, p, p + v.size());
  }
  size_t left() const { return size_t(egptr() - gptr()); }
};

// An ostream appending to a string: no stringstream regrowth and final copy.
struct StringBuf : std::streambuf {
  std::string out;
  std::streamsize xsputn(const char* p, std::streamsize n) override {
    out.append(p, size_t(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out.push_back(char(c));
    return c;
  }
};

uint32_t crc32(std::string_view bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::string name_of(const char* p, size_t max) { return std::string(p, strnlen(p, max)); }

// Run ids in messages: bytes outside printable ASCII as \xNN.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c > 0x20 && c < 0x7F && c != '\\') {
      out += char(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out;
}

// Encoded apart so the writer can tell an unchanged ledger from its body
// alone; head then body in one stream reads back the same (their record
// types differ, so each archive writes each class version once).
std::string encode_body(const Snapshot& s) {
  StringBuf buf;
  buf.out.reserve(s.runs.size() * 256 + s.pools.size() * 128 + 64);
  std::ostream os(&buf);
  {
    cereal::BinaryOutputArchive ar(os);
    // Saving only reads them; the helpers are shared with loading.
    auto& runs = const_cast<std::vector<SnapshotRun>&>(s.runs);
    auto& pools = const_cast<std::vector<SnapshotPool>&>(s.pools);
    list(ar, runs, SIZE_MAX, "runs", [&](SnapshotRun& r) { ar(r); });
    list(ar, pools, SIZE_MAX, "pools", [&](SnapshotPool& p) { ar(p); });
  }
  return std::move(buf.out);
}

std::string encode_file(const Snapshot& s, std::string_view body) {
  StringBuf buf;
  buf.out.assign(kSnapshotHeaderBytes, '\0');  // magic, length and CRC once known
  {
    std::ostream os(&buf);
    cereal::BinaryOutputArchive ar(os);
    SnapshotHead h{s.ledger, s.layout_major, s.layout_minor, s.written_unix_ns};
    uint32_t format = s.format;
    ar(format, h);  // the format first, raw: any later reader finds it there
  }
  std::string file = std::move(buf.out);
  file.append(body);
  std::string_view payload = std::string_view(file).substr(kSnapshotHeaderBytes);
  uint32_t len = uint32_t(payload.size()), crc = crc32(payload);
  std::memcpy(file.data(), kSnapshotMagic, sizeof kSnapshotMagic);
  std::memcpy(file.data() + 8, &len, 4);
  std::memcpy(file.data() + 12, &crc, 4);
  return file;
}

// What cereal cannot check: the values must make sense for a ledger.
bool validate(const Snapshot& s, std::string* error) {
  std::unordered_set<std::string_view> ids, pools;
  for (size_t i = 0; i < s.runs.size(); ++i) {
    const SnapshotRun& r = s.runs[i];
    std::string where = "run " + std::to_string(i) + " (\"" + printable(r.id) + "\"): ";
    if (!valid_run_id(r.id)) return *error = where + "invalid run id", false;
    if (!ids.insert(r.id).second) return *error = where + "run id appears twice", false;
    if (r.closed > 1) return *error = where + "invalid state " + std::to_string(r.closed), false;
    if (r.spent < 0 || r.child_spent < 0 || r.overshoot < 0) return *error = where + "negative spend", false;
    for (auto& a : r.ancestors)
      if (!valid_run_id(a) || a == r.id) return *error = where + "invalid ancestor \"" + printable(a) + "\"", false;
  }
  for (const SnapshotPool& p : s.pools) {
    if (p.name.empty()) return *error = "pool with an empty name", false;
    if (!pools.insert(p.name).second) return *error = "pool \"" + printable(p.name) + "\" appears twice", false;
    if (p.total_spent < 0 || p.archived_spent < 0)
      return *error = "pool \"" + printable(p.name) + "\": negative spend", false;
  }
  return true;
}

std::string utc_time(uint64_t unix_ns) {
  time_t t = time_t(unix_ns / 1'000'000'000u);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

uint64_t elapsed_ns(std::chrono::steady_clock::time_point t0) {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

Snapshot capture_snapshot(const Ledger& l) {
  Snapshot s;
  s.ledger = l.name();
  const RunSlot* slots = l.slots();
  const uint32_t cap = l.capacity(), npools = l.pool_count();
  const PoolDef* defs = l.pool_defs();
  auto pool_name = [&](uint32_t i) { return name_of(defs[i].name, sizeof defs[i].name); };
  auto live = [](uint64_t w) { return word_state(w) == SlotState::kActive || word_state(w) == SlotState::kClosed; };
  for (uint32_t i = 0; i < cap; ++i) {
    const RunSlot& x = slots[i];
    uint64_t w = x.word.load(std::memory_order_acquire);
    if (!live(w)) continue;
    SnapshotRun& r = s.runs.emplace_back();
    r.id = name_of(x.id, std::min<size_t>(x.id_len, kRunIdMax));
    const Policy* p = l.policy_of(x);
    r.policy = p ? name_of(p->name, sizeof p->name) : "";
    r.closed = word_state(w) == SlotState::kClosed;
    r.begun_unix_ns = x.begun_unix_ns;
    r.closed_unix_ns = x.closed_unix_ns.load(std::memory_order_relaxed);
    r.client_hard = x.client_hard.load(std::memory_order_relaxed);
    r.client_soft = x.client_soft.load(std::memory_order_relaxed);
    for (int k = 0; k < kMaxSoftThresholds; ++k)
      r.soft_nanos[size_t(k)] = x.soft_nanos[k].load(std::memory_order_relaxed);
    r.max_calls = x.max_calls;
    r.max_in_flight = x.max_in_flight;
    r.loop_limit = x.loop_limit;
    r.max_duration_s = x.max_duration_s;
    r.max_tokens = x.max_tokens;
    r.spent = x.spent.load(std::memory_order_relaxed);
    r.overshoot = x.overshoot.load(std::memory_order_relaxed);
    r.child_spent = x.child_spent.load(std::memory_order_relaxed);
    r.calls = x.calls.load(std::memory_order_relaxed);
    r.input_tokens = x.input_tokens.load(std::memory_order_relaxed);
    r.cached_tokens = x.cached_tokens.load(std::memory_order_relaxed);
    r.cache_write_tokens = x.cache_write_tokens.load(std::memory_order_relaxed);
    r.output_tokens = x.output_tokens.load(std::memory_order_relaxed);
    r.reasoning_tokens = x.reasoning_tokens.load(std::memory_order_relaxed);
    r.first_charge_unix_ns = x.first_charge_unix_ns.load(std::memory_order_relaxed);
    r.last_charge_unix_ns = x.last_charge_unix_ns.load(std::memory_order_relaxed);
    r.flags = x.flags.load(std::memory_order_relaxed);
    // Delivered before pending: a bit delivered meanwhile is then pending
    // too, so it is never taken for an undelivered one, or lost.
    r.delivered_events = x.delivered_events.load(std::memory_order_acquire);
    r.pending_events = x.pending_events.load(std::memory_order_acquire);
    r.loop_word = x.loop_word.load(std::memory_order_relaxed);
    uint32_t why = x.last_denial.load(std::memory_order_relaxed);
    r.last_denial = why & 0xFFFF;  // the pool part is an index: kept by name
    if ((why >> 16) && (why >> 16) <= npools) r.last_denial_pool = pool_name((why >> 16) - 1);
    for (int k = 0; k < kMaxRunPools; ++k)
      if (x.pools[k] < npools) r.pools.push_back(pool_name(x.pools[k]));
    // Ancestors by id; one whose slot was recycled meanwhile is left out.
    uint32_t na = std::min<uint32_t>(x.ancestor_count, kMaxAncestors);
    for (uint32_t k = 0; k < na; ++k) {
      uint32_t ai = x.ancestor_index[k];
      if (ai >= cap) continue;
      uint64_t aw = slots[ai].word.load(std::memory_order_acquire);
      if (live(aw) && word_generation(aw) == x.ancestor_generation[k])
        r.ancestors.push_back(name_of(slots[ai].id, std::min<size_t>(slots[ai].id_len, kRunIdMax)));
    }
  }
  for (uint32_t i = 0; i < npools; ++i) {
    const PoolSlot& x = l.pools()[i];
    SnapshotPool& p = s.pools.emplace_back();
    p.name = pool_name(i);
    p.period_kind = uint32_t(defs[i].period);
    p.rolling_s = defs[i].rolling_s;
    p.total_spent = x.total_spent.load(std::memory_order_acquire);
    p.archived_spent = x.archived_spent.load(std::memory_order_relaxed);
    p.period_tag = x.period_tag.load(std::memory_order_acquire);
    p.period_base = x.period_base.load(std::memory_order_acquire);
    p.base_tag = x.base_tag.load(std::memory_order_acquire);
    p.previous_spent = x.previous_spent.load(std::memory_order_relaxed);
    p.previous_tag = x.previous_tag.load(std::memory_order_relaxed);
    p.delivered = x.delivered.load(std::memory_order_acquire);
    p.events = x.events.load(std::memory_order_acquire);
  }
  s.written_unix_ns = unix_ns();
  return s;
}

std::string encode_snapshot(const Snapshot& s) { return encode_file(s, encode_body(s)); }

bool decode_snapshot(std::string_view bytes, Snapshot* out, std::string* error) {
  if (bytes.size() < kSnapshotHeaderBytes) {
    *error = "truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the " +
             std::to_string(kSnapshotHeaderBytes) + "-byte header";
    return false;
  }
  if (std::memcmp(bytes.data(), kSnapshotMagic, sizeof kSnapshotMagic) != 0) {
    *error = "not an agentbudget snapshot (bad magic number)";
    return false;
  }
  uint32_t len = 0, crc = 0;
  std::memcpy(&len, bytes.data() + 8, 4);
  std::memcpy(&crc, bytes.data() + 12, 4);
  std::string_view payload = bytes.substr(kSnapshotHeaderBytes);
  if (payload.size() < len) {
    *error = "truncated: the header announces " + std::to_string(len) + " payload bytes, the file has " +
             std::to_string(payload.size());
    return false;
  }
  if (payload.size() > len) {
    *error =
        std::to_string(payload.size() - len) + " unexpected bytes after the " + std::to_string(len) + "-byte payload";
    return false;
  }
  if (uint32_t actual = crc32(payload); actual != crc) {
    char b[96];
    std::snprintf(b, sizeof b, "CRC-32 mismatch (stored %08x, computed %08x): the file is corrupt", crc, actual);
    *error = b;
    return false;
  }
  Snapshot s;
  try {
    ViewBuf buf(payload);
    std::istream is(&buf);
    cereal::BinaryInputArchive ar(is);
    ar(s.format);
    if (s.format == 0 || s.format > kSnapshotFormat) {
      *error = "format version " + std::to_string(s.format) + " is not one this agentbudgetd reads (1 to " +
               std::to_string(kSnapshotFormat) + ")" + (s.format ? ": written by a newer agentbudgetd" : "");
      return false;
    }
    SnapshotHead h;
    ar(h);
    s.ledger = std::move(h.ledger);
    s.layout_major = h.layout_major;
    s.layout_minor = h.layout_minor;
    s.written_unix_ns = h.written_unix_ns;
    list(ar, s.runs, kMaxRunCapacity, "runs", [&](SnapshotRun& r) { ar(r); });
    list(ar, s.pools, kMaxPools, "pools", [&](SnapshotPool& p) { ar(p); });
    if (buf.left()) {
      *error = std::to_string(buf.left()) + " bytes left over after the snapshot's content";
      return false;
    }
  } catch (const BadSnapshot& e) {
    *error = e.what();
    return false;
  } catch (const std::exception& e) {  // cereal: read past the end; allocation
    *error = std::string("payload cannot be decoded: ") + e.what();
    return false;
  }
  if (!validate(s, error)) return false;
  *out = std::move(s);
  return true;
}

static std::string errno_text(int e) { return std::strerror(e); }

// Creates `dir` (0750) and any missing parents (0755).
static bool make_state_dir(const std::filesystem::path& dir, std::string* error) {
  if (dir.empty()) return true;
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    *error = "cannot create state folder " + dir.string() + ": a file of that name exists";
    return false;
  }
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    *error = "cannot create state folder " + dir.string() + ": " + errno_text(errno);
    return false;
  }
  return true;
}

bool write_file_atomically(const std::string& path, std::string_view bytes, std::string* error) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!make_state_dir(dir, error)) return false;
  // A fixed temporary name: a writer killed mid-write leaves one stale file
  // that the next write truncates, never a pile of them. Readers ignore it.
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& what, int e) {
    *error = "cannot write snapshot " + path + ": " + what + ": " + errno_text(e);
    unlink(tmp.c_str());
    return false;
  };
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return fail("open " + tmp, errno);
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      return fail("write " + tmp, e);
    }
    done += size_t(n);
  }
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    return fail("fsync " + tmp, e);
  }
  if (close(fd) != 0) return fail("close " + tmp, errno);
  AB_CRASH_POINT("snapshot.tmp_written");
  // The rename publishes: readers see the old file or the whole new one.
  if (rename(tmp.c_str(), path.c_str()) != 0) return fail("rename " + tmp, errno);
  // Make the rename itself durable.
  int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync(dfd) != 0) {
    *error = "cannot fsync state folder " + dir.string() + ": " + errno_text(errno);
    if (dfd >= 0) close(dfd);
    return false;
  }
  close(dfd);
  return true;
}

SnapshotRead read_snapshot_file(const std::string& path, Snapshot* out, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return SnapshotRead::kMissing;
    *error = "snapshot " + path + ": cannot open: " + errno_text(errno);
    return SnapshotRead::kBad;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      uint64_t(st.st_size) > kSnapshotHeaderBytes + uint64_t(UINT32_MAX)) {
    *error = "snapshot " + path + ": not a regular file of a snapshot's size";
    close(fd);
    return SnapshotRead::kBad;
  }
  std::string bytes(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "snapshot " + path + ": cannot read: " + errno_text(errno);
      close(fd);
      return SnapshotRead::kBad;
    }
    if (n == 0) break;  // shrank meanwhile: decoding says truncated
    got += size_t(n);
  }
  close(fd);
  bytes.resize(got);
  std::string why;
  if (!decode_snapshot(bytes, out, &why)) {
    *error = "snapshot " + path + ": " + why;
    return SnapshotRead::kBad;
  }
  return SnapshotRead::kOk;
}

bool restore_snapshot(Ledger& l, const Snapshot& s, RestoreStats* stats, std::string* error) {
  *stats = RestoreStats{};
  const uint32_t cap = l.capacity(), mask = cap - 1;
  if (s.runs.size() > cap) {
    *error = "it holds " + std::to_string(s.runs.size()) + " runs but the ledger has " + std::to_string(cap) +
             " run slots (raise run_capacity)";
    return false;
  }
  // Names to indices in the configuration this daemon runs with.
  std::unordered_map<std::string, uint16_t> pool_index, policy_index;
  for (uint32_t i = 0; i < l.pool_count(); ++i)
    pool_index.emplace(name_of(l.pool_defs()[i].name, sizeof l.pool_defs()[i].name), uint16_t(i));
  uint32_t npolicies = std::min<uint32_t>(l.config()->policy_count, kMaxPolicies);
  for (uint32_t i = 0; i < npolicies; ++i)
    policy_index.emplace(name_of(l.policies()[i].name, sizeof l.policies()[i].name), uint16_t(i));

  const int64_t now_s = int64_t(unix_ns() / 1'000'000'000u);
  for (const SnapshotPool& p : s.pools) {
    auto it = pool_index.find(p.name);
    if (it == pool_index.end()) {
      spdlog::warn("snapshot: pool \"{}\" is no longer configured; its totals are dropped", printable(p.name));
      continue;
    }
    PoolSlot& x = l.pools()[it->second];
    const PoolDef& def = l.pool_defs()[it->second];
    x.total_spent.store(p.total_spent, std::memory_order_relaxed);
    x.archived_spent.store(p.archived_spent, std::memory_order_relaxed);
    uint64_t current = period_of(def, now_s);
    if (p.period_kind == uint32_t(def.period) && p.rolling_s == def.rolling_s && p.period_tag <= current) {
      x.period_tag.store(p.period_tag, std::memory_order_relaxed);
      x.period_base.store(p.period_base, std::memory_order_relaxed);
      x.base_tag.store(p.base_tag, std::memory_order_relaxed);
      x.previous_spent.store(p.previous_spent, std::memory_order_relaxed);
      x.previous_tag.store(p.previous_tag, std::memory_order_relaxed);
      x.events.store(p.events, std::memory_order_relaxed);
      x.delivered.store(p.delivered, std::memory_order_relaxed);
    } else {
      // Its periods were redefined: old period numbers mean nothing now.
      // The current period starts here, with nothing spent in it.
      spdlog::warn("snapshot: pool \"{}\" has new periods; its current period starts now", printable(p.name));
      x.period_tag.store(current, std::memory_order_relaxed);
      x.period_base.store(p.total_spent, std::memory_order_relaxed);
      x.base_tag.store(current, std::memory_order_relaxed);
      x.events.store(current << 48, std::memory_order_relaxed);
      x.delivered.store(current << 48, std::memory_order_relaxed);
    }
    ++stats->pools;
  }

  // Parents before children: an ancestor list is its parent's plus one.
  std::vector<size_t> order(s.runs.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return s.runs[a].ancestors.size() < s.runs[b].ancestors.size(); });
  std::unordered_map<std::string_view, uint32_t> placed;
  placed.reserve(s.runs.size());
  RunSlot* slots = l.slots();
  for (size_t k : order) {
    const SnapshotRun& r = s.runs[k];
    const uint64_t hash = run_id_hash(r.id);
    // Where a client's begin would put it: the first empty slot of its
    // probe chain (the table is fresh: no tombstones, and it fits).
    uint32_t idx = uint32_t(hash) & mask;
    while (word_state(slots[idx].word.load(std::memory_order_relaxed)) != SlotState::kEmpty) idx = (idx + 1) & mask;
    RunSlot& x = slots[idx];
    auto pol = policy_index.find(r.policy);
    if (pol == policy_index.end()) {
      ++stats->unknown_policies;
      spdlog::warn("snapshot: run \"{}\" had policy \"{}\", which is no longer configured; it gets the default policy",
                   printable(r.id), printable(r.policy));
    }
    std::memset(x.id, 0, sizeof x.id);
    std::memcpy(x.id, r.id.data(), r.id.size());
    x.id_hash = hash;
    x.id_len = uint32_t(r.id.size());
    x.policy = pol == policy_index.end() ? 0 : pol->second;
    x.claimer_start_ticks.store(0, std::memory_order_relaxed);
    x.begun_unix_ns = r.begun_unix_ns;
    x.client_hard.store(r.client_hard, std::memory_order_relaxed);
    x.client_soft.store(r.client_soft, std::memory_order_relaxed);
    x.pending_events.store(r.pending_events, std::memory_order_relaxed);
    x.delivered_events.store(r.delivered_events, std::memory_order_relaxed);
    x.closed_unix_ns.store(r.closed_unix_ns, std::memory_order_relaxed);
    for (int t = 0; t < kMaxSoftThresholds; ++t)
      x.soft_nanos[t].store(r.soft_nanos[size_t(t)], std::memory_order_relaxed);
    x.first_charge_unix_ns.store(r.first_charge_unix_ns, std::memory_order_relaxed);
    x.spent.store(r.spent, std::memory_order_relaxed);
    x.calls.store(r.calls, std::memory_order_relaxed);
    x.last_charge_unix_ns.store(r.last_charge_unix_ns, std::memory_order_relaxed);
    x.input_tokens.store(r.input_tokens, std::memory_order_relaxed);
    x.cached_tokens.store(r.cached_tokens, std::memory_order_relaxed);
    x.cache_write_tokens.store(r.cache_write_tokens, std::memory_order_relaxed);
    x.output_tokens.store(r.output_tokens, std::memory_order_relaxed);
    x.reasoning_tokens.store(r.reasoning_tokens, std::memory_order_relaxed);
    x.held.store(0, std::memory_order_relaxed);  // holds died with their processes
    x.in_flight.store(0, std::memory_order_relaxed);
    x.flags.store(r.flags, std::memory_order_relaxed);
    x.loop_word.store(r.loop_word, std::memory_order_relaxed);
    x.hold_seq.store(0, std::memory_order_relaxed);
    x.overshoot.store(r.overshoot, std::memory_order_relaxed);
    x.max_calls = r.max_calls;
    x.max_in_flight = r.max_in_flight;
    x.loop_limit = r.loop_limit;
    x.max_duration_s = r.max_duration_s;
    x.max_tokens = r.max_tokens;
    x.child_spent.store(r.child_spent, std::memory_order_relaxed);
    int np = 0;
    for (int t = 0; t < kMaxRunPools; ++t) x.pools[t] = kNoPool;
    for (const std::string& name : r.pools) {
      auto it = pool_index.find(name);
      if (it == pool_index.end())
        ++stats->dropped_pools;
      else if (np < kMaxRunPools)
        x.pools[np++] = it->second;
    }
    uint32_t na = 0;
    for (const std::string& a : r.ancestors) {
      auto it = placed.find(a);
      if (it == placed.end()) {  // not in the snapshot (or not before it)
        ++stats->dropped_ancestors;
        continue;
      }
      x.ancestor_index[na] = it->second;
      x.ancestor_generation[na] = word_generation(slots[it->second].word.load(std::memory_order_relaxed));
      ++na;
    }
    for (uint32_t t = na; t < uint32_t(kMaxAncestors); ++t) x.ancestor_index[t] = x.ancestor_generation[t] = 0;
    x.ancestor_count = na;
    uint32_t denial_pool = 0;
    if (auto it = pool_index.find(r.last_denial_pool); !r.last_denial_pool.empty() && it != pool_index.end())
      denial_pool = uint32_t(it->second) + 1;
    x.last_denial.store((r.last_denial & 0xFFFF) | (denial_pool << 16), std::memory_order_relaxed);
    uint64_t w = x.word.load(std::memory_order_relaxed);
    x.word.store(pack_word(r.closed ? SlotState::kClosed : SlotState::kActive, word_generation(w), 0),
                 std::memory_order_release);
    placed.emplace(r.id, idx);
    ++stats->runs;
  }
  if (stats->dropped_pools)
    spdlog::warn("snapshot: {} run memberships of pools no longer configured were dropped", stats->dropped_pools);
  return true;
}

bool restore_from_file(Ledger& fresh, const std::string& path, bool discard, bool* restored, std::string* message) {
  *restored = false;
  Snapshot s;
  std::string err;
  SnapshotRead r = read_snapshot_file(path, &s, &err);
  if (r == SnapshotRead::kMissing) {
    spdlog::info("no snapshot at {}: starting with an empty ledger", path);
    return true;
  }
  RestoreStats st;
  if (r == SnapshotRead::kOk) {
    if (s.ledger != fresh.name())
      spdlog::warn("snapshot {} was written for ledger '{}'; restoring it into '{}'", path, printable(s.ledger),
                   fresh.name());
    // restore_snapshot refuses before changing anything.
    if (restore_snapshot(fresh, s, &st, &err)) {
      spdlog::info("restored {} runs, {} pools from {} (written at {})", st.runs, st.pools, path,
                   utc_time(s.written_unix_ns));
      *restored = true;
      return true;
    }
    err = "snapshot " + path + ": " + err;
  }
  if (!discard) {
    *message = err +
               ". agentbudgetd refuses to start rather than lose the runs it may hold: move the file aside, or "
               "start with --discard-snapshot to rename it to " +
               path + ".corrupt-<unix time> and start with an empty ledger";
    return false;
  }
  std::string aside = path + ".corrupt-" + std::to_string(unix_ns() / 1'000'000'000u);
  if (rename(path.c_str(), aside.c_str()) != 0) {
    *message = err + "; --discard-snapshot could not rename it to " + aside + ": " + errno_text(errno);
    return false;
  }
  spdlog::warn("{}; --discard-snapshot: moved it to {}, starting with an empty ledger", err, aside);
  return true;
}

// ---------------------------------------------------------------------------

SnapshotWriter::SnapshotWriter(std::string path) : path_(std::move(path)), thread_([this] { loop(); }) {}

SnapshotWriter::~SnapshotWriter() {
  {
    std::lock_guard g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SnapshotWriter::loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || queue_.has_value(); });
    if (!queue_) return;  // stopping, nothing left to write
    auto job = std::move(*queue_);
    queue_.reset();
    writing_ = true;
    lk.unlock();
    std::string err;
    write(std::move(job.first), job.second, &err);
    lk.lock();
    writing_ = false;
    cv_.notify_all();
  }
}

void SnapshotWriter::submit(Snapshot s, uint64_t capture_ns) {
  {
    std::lock_guard g(mu_);
    queue_.emplace(std::move(s), capture_ns);
  }
  cv_.notify_all();
}

bool SnapshotWriter::busy() const {
  std::lock_guard g(mu_);
  return writing_ || queue_.has_value();
}

bool SnapshotWriter::write_now(Snapshot s, uint64_t capture_ns, std::string* error) {
  {
    std::unique_lock lk(mu_);
    queue_.reset();  // older than `s`
    cv_.wait(lk, [&] { return !writing_; });
  }
  return write(std::move(s), capture_ns, error);
}

SnapshotStats SnapshotWriter::stats() const {
  std::lock_guard g(mu_);
  return stats_;
}

bool SnapshotWriter::write(Snapshot s, uint64_t capture_ns, std::string* error) {
  std::lock_guard w(write_mu_);
  auto t0 = std::chrono::steady_clock::now();
  std::string body = encode_body(s);
  // An idle ledger would rewrite the same bytes every interval: skip them.
  size_t hash = std::hash<std::string_view>{}(body);
  bool unchanged = have_body_hash_ && hash == last_body_hash_;
  bool ok = true;
  size_t bytes = 0;
  if (!unchanged) {
    s.written_unix_ns = unix_ns();
    std::string file = encode_file(s, body);
    bytes = file.size();
    ok = write_file_atomically(path_, file, error);
    have_body_hash_ = ok;
    last_body_hash_ = hash;
  }
  std::lock_guard g(mu_);
  stats_.last_capture_ns = capture_ns;
  stats_.last_write_ns = elapsed_ns(t0);
  if (unchanged) {
    ++stats_.unchanged;
  } else if (ok) {
    ++stats_.written;
    stats_.last_written_unix_ns = s.written_unix_ns;
    stats_.last_bytes = bytes;
    stats_.last_runs = s.runs.size();
    stats_.last_error.clear();
  } else {
    ++stats_.failed;
    if (stats_.last_error != *error) spdlog::error("{}", *error);  // once per distinct failure
    stats_.last_error = *error;
  }
  return ok;
}

}  // namespace ab
