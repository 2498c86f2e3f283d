// Argument helpers for kernels: check KernelArgs against a kernel's declared
// KernelParams and parse numeric values, so every kernel rejects bad input
// the same way, with INVALID_ARGUMENT messages that name the parameter.
//
// Thread-safety: stateless free functions; safe from any thread.
#ifndef SHARDEX_KERNELS_ARGS_H_
#define SHARDEX_KERNELS_ARGS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kernels/kernel.h"

namespace shardex {

// Checks `args` for kernel `kernel` against `params`:
//   * an empty name, or a NUL byte in a name or value, fails with
//     'args["to"] (--to): contains a NUL byte' (a client of the API, not
//     the CLI, can send these);
//   * a name that is not a declared parameter fails with
//     "unknown argument --foo for kernel primes";
//   * an absent required parameter fails with
//     "missing required argument --to for kernel primes".
// Returns `args` with the default_value of every absent optional parameter
// that has one filled in. Optional parameters with an empty default stay
// absent, so the kernel can tell "not given" from any value.
absl::StatusOr<KernelArgs> ResolveArgs(absl::string_view kernel,
                                       absl::Span<const KernelParam> params,
                                       const KernelArgs& args);

// args[param + kAsSubmitted] (the paths as the user named them, for a
// staged path parameter), or "" when absent.
std::string AsSubmitted(const KernelArgs& args, const std::string& param);

// Parses the value `text` of parameter `name` (without dashes) as a
// non-negative integer that fits in uint64. Accepted forms:
//   1000000000    plain decimal (leading zeros allowed)
//   1_000_000     '_' between digits, for readability
//   1e9, 25E8     mantissa times a power of ten
//   1.5e9         decimal mantissa, if the result is a whole number
//   10^9, 2^32    integer power (0^0 is 1)
// Signs, spaces, empty text and trailing characters are rejected with
// "--to: '12x' is not a non-negative integer"; values above 2^64-1 with
// "--to: '1e20' exceeds the maximum 18446744073709551615". Messages show
// the text escaped and cut to 64 bytes.
absl::StatusOr<uint64_t> ParseUint64Arg(absl::string_view name,
                                        absl::string_view text);

// Parses args[name] with ParseUint64Arg, or returns `if_absent` when the
// argument is not present.
absl::StatusOr<uint64_t> GetUint64Arg(const KernelArgs& args,
                                      const std::string& name,
                                      uint64_t if_absent);

// Fails unless min <= value <= max, with "--ms must be between 0 and
// 3600000, got 5000000" (or "--samples must be at least 1, got 0" when max
// is UINT64_MAX).
absl::Status CheckArgRange(absl::string_view name, uint64_t value, uint64_t min,
                           uint64_t max);

}  // namespace shardex

#endif  // SHARDEX_KERNELS_ARGS_H_
