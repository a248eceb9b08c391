// Calendar period starts (day, week from Monday, month) in an IANA time
// zone, computed by the daemon and published in the config segment so that
// clients need no time-zone code. Uses the system tz database.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ab {

bool valid_timezone(const std::string& tz);

// Period numbers: days, weeks (from Monday) or months since 1970 in `tz`.
// Fills `count` consecutive starts (unix seconds) beginning with the period
// before the one containing `now`, and that first period's number.
// False if `kind` or `tz` is unknown.
bool calendar_starts(const std::string& kind, const std::string& tz, int64_t now_unix_s, int count,
                     uint64_t* first_period, std::vector<int64_t>* starts);

}  // namespace ab
