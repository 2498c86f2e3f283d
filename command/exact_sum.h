// ExactSum: adds decimal numbers written as text without rounding, for the
// `sum` reduce of command jobs ("numbers summed exactly"): 0.1 + 0.2 is 0.3,
// and 2^70 + 1 keeps its last digit.
//
// Thread-safety: none; one ExactSum per reduction.
#ifndef SHARDEX_COMMAND_EXACT_SUM_H_
#define SHARDEX_COMMAND_EXACT_SUM_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shardex {

class ExactSum {
 public:
  // Adds every whitespace-separated number in `text` ("-12", "3.25", "+7",
  // "1e3" is not accepted). INVALID_ARGUMENT names the first bad token.
  absl::Status AddAll(absl::string_view text);
  absl::Status Add(absl::string_view number);

  // The sum in plain decimal: no exponent, no trailing fractional zeros.
  std::string ToString() const;

 private:
  // Magnitude digits, least significant first, with `scale_` of them after
  // the decimal point; `negative_` gives the sign.
  void AddMagnitude(const std::vector<int>& digits, int scale, bool negative);

  std::vector<int> digits_;
  int scale_ = 0;
  bool negative_ = false;
};

}  // namespace shardex

#endif  // SHARDEX_COMMAND_EXACT_SUM_H_
