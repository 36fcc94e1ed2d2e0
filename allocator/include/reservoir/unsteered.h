// RESERVOIR_UNSTEERED marks one function as bookkeeping that a fuzzing
// engine's coverage must not see: code whose path depends on what earlier
// inputs of the same process left behind (a cache that was filled or not,
// the size of the state a reset cleans up), not on the input being run.
// If it were instrumented, the same input would report different coverage
// depending on the inputs before it, and a fuzzing run with a fixed seed
// would not repeat (docs/ENGINES.md, "What repeats").
//
// The sanitizers stay. noinline keeps the body out of instrumented callers;
// what the function calls is instrumented as usual, so such a function
// calls nothing whose path depends on history.
#ifndef RESERVOIR_UNSTEERED_H_
#define RESERVOIR_UNSTEERED_H_

#if defined(__clang__)
#define RESERVOIR_UNSTEERED __attribute__((no_sanitize("coverage"), noinline))
#else
#define RESERVOIR_UNSTEERED __attribute__((noinline))
#endif

#endif  // RESERVOIR_UNSTEERED_H_
