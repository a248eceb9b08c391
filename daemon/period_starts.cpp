#include "period_starts.h"

#include <date/tz.h>

namespace ab {

bool valid_timezone(const std::string& tz) {
  try {
    return date::locate_zone(tz) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

namespace {

using date::days;
using date::local_days;

// First local day of period `n`.
local_days period_start_day(const std::string& kind, int64_t n) {
  if (kind == "day") return local_days{days{n}};
  if (kind == "week") return local_days{date::year{1969} / date::December / 29} + days{7 * n};  // a Monday
  date::year_month ym = date::year{1970} / date::January + date::months{n};
  return local_days{ym / 1};
}

// Number of the period containing local day `d`.
int64_t period_of_day(const std::string& kind, local_days d) {
  if (kind == "day") return d.time_since_epoch().count();
  if (kind == "week") {
    auto since = (d - local_days{date::year{1969} / date::December / 29}).count();
    return since >= 0 ? since / 7 : (since - 6) / 7;
  }
  date::year_month_day ymd{d};
  return (int64_t(int(ymd.year())) - 1970) * 12 + int64_t(unsigned(ymd.month())) - 1;
}

}  // namespace

bool calendar_starts(const std::string& kind, const std::string& tz, int64_t now, int count, uint64_t* first_period,
                     std::vector<int64_t>* starts) {
  if (kind != "day" && kind != "week" && kind != "month") return false;
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(tz);
  } catch (const std::exception&) {
    return false;
  }
  auto local_now = zone->to_local(date::sys_seconds{std::chrono::seconds{now}});
  int64_t current = period_of_day(kind, date::floor<days>(local_now));
  int64_t first = current - 1;
  if (first < 0) return false;
  starts->clear();
  for (int i = 0; i < count; ++i) {
    // Midnight may not exist on a DST day in some zones: take the earliest
    // instant of that local day.
    auto sys = zone->to_sys(period_start_day(kind, first + i), date::choose::earliest);
    starts->push_back(sys.time_since_epoch().count());
  }
  *first_period = uint64_t(first);
  return true;
}

}  // namespace ab
