// Planted bugs: deliberate, marked defects of the model, so that the fuzzers
// and the oracle can be shown to find each class of real bug (DOMAIN.md,
// "Real bugs"; corpus/plants/README.md says what each one mirrors).
//
// The one list of plant ids is RESERVOIR_PLANT_LIST below. A plant site in
// allocator/src/ reads
//
//     // PLANT(<id>): what the planted code does wrong, and what it mirrors.
//     if (RESERVOIR_PLANTED(<id>)) { ...the wrong behaviour... }
//
// and the build chooses what RESERVOIR_PLANTED means (CMake's
// RESERVOIR_PLANT):
//   * empty (the default): constexpr false; the compiler removes every
//     planted branch, and the binary carries no plant.
//   * one id: constexpr true for that id only (RESERVOIR_PLANT_COMPILED),
//     false for the others; the old one-plant-per-build mode.
//   * "runtime": every plant is compiled in, and the environment variable
//     RESERVOIR_PLANT=<id> (read once, on the first model construction)
//     turns on exactly one; unset or empty = the correct model. An unknown
//     id is a one-line error on stderr and exit status 2.
#ifndef RESERVOIR_PLANT_H_
#define RESERVOIR_PLANT_H_

namespace reservoir {

// X(id): one entry per plant, in the order of corpus/plants/README.md.
#define RESERVOIR_PLANT_LIST(X) \
  X(fastpath_skips_match)       \
  X(partial_ignores_tag)        \
  X(stale_pfmemalloc)           \
  X(pfmemalloc_every_entitled)  \
  X(uncharge_ksize)             \
  X(connect_drops_usage)        \
  X(connect_drops_pages)        \
  X(wrong_buddy)                \
  X(strict_reserve_in_min)      \
  X(error_path_skips_uncharge)  \
  X(estimator_drops_partial)

enum class PlantId : int {
  kNone = 0,
#define RESERVOIR_PLANT_ENUM_(id) id,
  RESERVOIR_PLANT_LIST(RESERVOIR_PLANT_ENUM_)
#undef RESERVOIR_PLANT_ENUM_
};

// Every id's spelling, indexed by PlantId (kNone is "none").
inline constexpr const char* kPlantNames[] = {
    "none",
#define RESERVOIR_PLANT_NAME_(id) #id,
    RESERVOIR_PLANT_LIST(RESERVOIR_PLANT_NAME_)
#undef RESERVOIR_PLANT_NAME_
};
inline constexpr int kPlantCount =
    static_cast<int>(sizeof(kPlantNames) / sizeof(kPlantNames[0])) - 1;

// What this build can plant, for --version lines and tests: "none",
// "compiled:<id>" or "runtime".
const char* PlantBuildMode();

// The plant switched on in this process (kNone on the correct model).
// Runtime mode: reads RESERVOIR_PLANT once (exit 2 on an unknown id).
PlantId ActivePlant();

// Resolves a plant id's spelling; kNone for "" and "none"; returns false
// for anything else that is not a plant id.
bool ParsePlantId(const char* text, PlantId* out);

#if defined(RESERVOIR_PLANT_RUNTIME)
namespace plant_detail {
// Set by ActivePlant() on first use; a plain load at every site.
extern PlantId g_active;
extern bool g_read;
}  // namespace plant_detail
#define RESERVOIR_PLANTED(id)                                         \
  ((::reservoir::plant_detail::g_read ? ::reservoir::plant_detail::g_active \
                                      : ::reservoir::ActivePlant()) ==  \
   ::reservoir::PlantId::id)
#elif defined(RESERVOIR_PLANT_COMPILED)
#define RESERVOIR_PLANTED(id) \
  (::reservoir::PlantId::id == ::reservoir::PlantId::RESERVOIR_PLANT_COMPILED)
#else
// The default build: every planted branch is dead code.
#define RESERVOIR_PLANTED(id) \
  (static_cast<void>(::reservoir::PlantId::id), false)
#endif

}  // namespace reservoir

#endif  // RESERVOIR_PLANT_H_
