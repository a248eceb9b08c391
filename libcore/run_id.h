// Run ids: 1..kRunIdMax bytes of printable ASCII (0x21..0x7E; no spaces or
// control bytes, so ids are safe in logs, file names and shell hooks).
#pragma once
#include <cstdint>
#include <string_view>

namespace ab {

bool valid_run_id(std::string_view id);

// 64-bit FNV-1a of the id bytes; never 0 (0 is reserved).
uint64_t run_id_hash(std::string_view id);

}  // namespace ab
