#include "layout.h"

namespace ab {

uint64_t data_segment_size(uint32_t run_capacity, uint32_t hold_capacity) {
  return sizeof(DataHeader) + uint64_t(run_capacity) * sizeof(RunSlot) + uint64_t(hold_capacity) * sizeof(HoldSlot) +
         uint64_t(kMaxPools) * sizeof(PoolSlot) + uint64_t(kCreateLeases) * sizeof(uint64_t);
}

uint64_t config_segment_size(uint32_t model_index_capacity) {
  return sizeof(ConfigHeader) + uint64_t(kMaxPolicies) * sizeof(Policy) + uint64_t(kMaxModels) * sizeof(ModelPrice) +
         uint64_t(model_index_capacity) * sizeof(uint32_t) + uint64_t(kMaxPools) * sizeof(PoolDef);
}

}  // namespace ab
