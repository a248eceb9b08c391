#include "model_index.h"

#include <cstring>

#include "run_id.h"

namespace ab {

static const ModelPrice* lookup_exact(const ModelPrice* models, uint32_t count, const uint32_t* index, uint32_t cap,
                                      std::string_view name) {
  uint32_t mask = cap - 1;
  uint32_t i = uint32_t(run_id_hash(name)) & mask;
  for (uint32_t probes = 0; probes < cap; ++probes, i = (i + 1) & mask) {
    uint32_t v = index[i];
    if (v == 0) return nullptr;
    if (v > count) return nullptr;  // corrupt entry: treat as a miss
    const ModelPrice& m = models[v - 1];
    if (m.name_len == name.size() && m.name_len <= kModelNameMax && std::memcmp(m.name, name.data(), name.size()) == 0)
      return &m;
  }
  return nullptr;
}

const ModelPrice* find_model(const ModelPrice* models, uint32_t model_count, const uint32_t* index,
                             uint32_t index_capacity, std::string_view name) {
  if (index_capacity == 0 || (index_capacity & (index_capacity - 1)) != 0) return nullptr;
  while (!name.empty() && name.size() <= 4 * kModelNameMax) {
    if (name.size() <= kModelNameMax)
      if (const ModelPrice* m = lookup_exact(models, model_count, index, index_capacity, name)) return m;
    size_t slash = name.find('/');
    if (slash == std::string_view::npos) break;
    name.remove_prefix(slash + 1);
  }
  return nullptr;
}

bool build_model_index(const ModelPrice* models, uint32_t count, uint32_t* index, uint32_t cap) {
  if (cap == 0 || (cap & (cap - 1)) != 0 || count >= cap) return false;
  bool ok = true;
  uint32_t mask = cap - 1;
  for (uint32_t k = 0; k < count; ++k) {
    std::string_view name(models[k].name, models[k].name_len);
    if (lookup_exact(models, count, index, cap, name)) {
      ok = false;
      continue;
    }
    uint32_t i = uint32_t(run_id_hash(name)) & mask;
    while (index[i] != 0) i = (i + 1) & mask;
    index[i] = k + 1;
  }
  return ok;
}

}  // namespace ab
