// The snapshot reader. The input is a snapshot's payload: the harness adds
// the file header (magic, length, CRC-32) so that the bytes reach the cereal
// decoder and the validation behind it instead of stopping at the CRC (the
// first input byte, when odd, is taken as a whole file instead). What
// decodes is restored into a fresh ledger; nothing may crash.
#include <unistd.h>

#include <boost/crc.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "config.h"
#include "ledger_owner.h"
#include "snapshot.h"

// The file's checksum, as the writer computes it.
static uint32_t crc32_of(std::string_view s) {
  boost::crc_32_type crc;
  crc.process_bytes(s.data(), s.size());
  return crc.checksum();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file;
  if (data[0] & 1) {
    file.assign(rest);
  } else {
    file.assign(ab::kSnapshotMagic, sizeof ab::kSnapshotMagic);
    uint32_t len = uint32_t(rest.size()), crc = crc32_of(rest);
    file.append(reinterpret_cast<const char*>(&len), 4);
    file.append(reinterpret_cast<const char*>(&crc), 4);
    file.append(rest);
  }
  ab::Snapshot s;
  std::string error;
  if (!ab::decode_snapshot(file, &s, &error)) {
    if (error.empty()) std::abort();
    return 0;
  }
  // Restore into a fresh ledger of 16 slots, as a daemon does after a reboot.
  static int n = 0;
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.ledger = "abfuzz-snap-" + std::to_string(getpid()) + "-" + std::to_string(n++);
  cfg.run_capacity = 16;
  cfg.hold_capacity = 16;
  cfg.group = "";
  std::unique_ptr<ab::Ledger> l;
  ab::OwnResult r = ab::own_ledger(cfg, {}, &l, [&](ab::Ledger& fresh, bool* restored, std::string* msg) {
    ab::RestoreStats stats;
    *restored = ab::restore_snapshot(fresh, s, &stats, msg);
    return true;  // a snapshot that does not fit is refused, and that is fine here
  });
  l.reset();
  ab::remove_ledger(cfg.ledger);
  if (r.status != ab::Status::kOk) std::abort();  // creating the ledger itself must work
  return 0;
}
