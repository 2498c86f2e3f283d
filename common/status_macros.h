// RETURN_IF_ERROR / ASSIGN_OR_RETURN: the two status macros Abseil 20220623
// lacks. Header-only; no state.
#ifndef SHARDEX_COMMON_STATUS_MACROS_H_
#define SHARDEX_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SHARDEX_CONCAT_INNER_(a, b) a##b
#define SHARDEX_CONCAT_(a, b) SHARDEX_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    const ::absl::Status _shardex_st = (expr);   \
    if (!_shardex_st.ok()) return _shardex_st;   \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F())` declares x from an OK StatusOr, or returns
// the error from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(SHARDEX_CONCAT_(_shardex_or_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // SHARDEX_COMMON_STATUS_MACROS_H_
