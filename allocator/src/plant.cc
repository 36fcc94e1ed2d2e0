// The build's plant mode and, in runtime mode, the plant the environment
// selects (reservoir/plant.h).
#include "reservoir/plant.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace reservoir {

#if defined(RESERVOIR_PLANT_RUNTIME)
namespace plant_detail {
PlantId g_active = PlantId::kNone;
bool g_read = false;
}  // namespace plant_detail
#endif

bool ParsePlantId(const char* text, PlantId* out) {
  if (text == nullptr || *text == '\0' || std::strcmp(text, "none") == 0) {
    *out = PlantId::kNone;
    return true;
  }
  for (int i = 1; i <= kPlantCount; ++i) {
    if (std::strcmp(text, kPlantNames[i]) == 0) {
      *out = static_cast<PlantId>(i);
      return true;
    }
  }
  return false;
}

const char* PlantBuildMode() {
#if defined(RESERVOIR_PLANT_RUNTIME)
  return "runtime";
#elif defined(RESERVOIR_PLANT_msan_uninit_read)
  // The executor's MemorySanitizer plant (fuzz/msan/), outside the list.
  return "compiled:msan_uninit_read";
#elif defined(RESERVOIR_PLANT_COMPILED)
#define RESERVOIR_PLANT_STR2_(x) #x
#define RESERVOIR_PLANT_STR_(x) RESERVOIR_PLANT_STR2_(x)
  return "compiled:" RESERVOIR_PLANT_STR_(RESERVOIR_PLANT_COMPILED);
#else
  return "none";
#endif
}

PlantId ActivePlant() {
#if defined(RESERVOIR_PLANT_RUNTIME)
  if (!plant_detail::g_read) {
    const char* value = std::getenv("RESERVOIR_PLANT");
    PlantId id = PlantId::kNone;
    if (!ParsePlantId(value, &id)) {
      std::fprintf(stderr, "RESERVOIR_PLANT=%s: not a plant id (known:", value);
      for (int i = 1; i <= kPlantCount; ++i) {
        std::fprintf(stderr, " %s", kPlantNames[i]);
      }
      std::fprintf(stderr, ")\n");
      std::exit(2);
    }
    plant_detail::g_active = id;
    plant_detail::g_read = true;
  }
  return plant_detail::g_active;
#elif defined(RESERVOIR_PLANT_COMPILED)
  return PlantId::RESERVOIR_PLANT_COMPILED;
#else
  return PlantId::kNone;
#endif
}

}  // namespace reservoir
