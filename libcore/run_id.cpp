#include "run_id.h"

#include "layout.h"

namespace ab {

bool valid_run_id(std::string_view id) {
  if (id.empty() || id.size() > kRunIdMax) return false;
  for (unsigned char c : id)
    if (c < 0x21 || c > 0x7E) return false;
  return true;
}

uint64_t run_id_hash(std::string_view id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // Final avalanche so that linear probing on the low bits spreads ids that
  // differ only in their last characters.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h ? h : 1;
}

}  // namespace ab
