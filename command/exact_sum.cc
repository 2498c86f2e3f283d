#include "command/exact_sum.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace shardex {

namespace {

// Compares magnitudes of equal scale and length.
int CompareMagnitude(const std::vector<int>& a, const std::vector<int>& b) {
  for (size_t i = a.size(); i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

void Normalize(std::vector<int>& digits, int& scale) {
  while (scale > 0 && !digits.empty() && digits.front() == 0) {
    digits.erase(digits.begin());
    --scale;
  }
  while (static_cast<int>(digits.size()) > scale && !digits.empty() &&
         digits.back() == 0) {
    digits.pop_back();
  }
}

}  // namespace

absl::Status ExactSum::AddAll(absl::string_view text) {
  for (absl::string_view token :
       absl::StrSplit(text, absl::ByAnyChar(" \t\n\r\v\f"), absl::SkipEmpty())) {
    absl::Status st = Add(token);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ExactSum::Add(absl::string_view number) {
  absl::string_view s = number;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  const size_t dot = s.find('.');
  absl::string_view whole = s.substr(0, dot);
  absl::string_view frac =
      dot == absl::string_view::npos ? absl::string_view() : s.substr(dot + 1);
  auto all_digits = [](absl::string_view d) {
    return std::all_of(d.begin(), d.end(), absl::ascii_isdigit);
  };
  if ((whole.empty() && frac.empty()) || !all_digits(whole) ||
      !all_digits(frac)) {  // a second '.' lands in frac and fails there
    return absl::InvalidArgumentError(
        absl::StrCat("sum: '", number, "' is not a decimal number"));
  }
  std::vector<int> digits;
  for (size_t i = frac.size(); i-- > 0;) digits.push_back(frac[i] - '0');
  for (size_t i = whole.size(); i-- > 0;) digits.push_back(whole[i] - '0');
  AddMagnitude(digits, static_cast<int>(frac.size()), negative);
  return absl::OkStatus();
}

void ExactSum::AddMagnitude(const std::vector<int>& in, int scale,
                            bool negative) {
  // Align both to the larger scale and the same length.
  std::vector<int> a = digits_, b = in;
  int sa = scale_, sb = scale;
  const int s = std::max(sa, sb);
  a.insert(a.begin(), s - sa, 0);
  b.insert(b.begin(), s - sb, 0);
  const size_t n = std::max(a.size(), b.size()) + 1;
  a.resize(n, 0);
  b.resize(n, 0);

  std::vector<int> out(n, 0);
  bool out_negative;
  if (negative_ == negative) {
    int carry = 0;
    for (size_t i = 0; i < n; ++i) {
      int v = a[i] + b[i] + carry;
      out[i] = v % 10;
      carry = v / 10;
    }
    out_negative = negative;
  } else {
    const bool a_bigger = CompareMagnitude(a, b) >= 0;
    const std::vector<int>& big = a_bigger ? a : b;
    const std::vector<int>& small = a_bigger ? b : a;
    int borrow = 0;
    for (size_t i = 0; i < n; ++i) {
      int v = big[i] - small[i] - borrow;
      borrow = v < 0;
      out[i] = v + (borrow ? 10 : 0);
    }
    out_negative = a_bigger ? negative_ : negative;
  }
  int out_scale = s;
  Normalize(out, out_scale);
  digits_ = std::move(out);
  scale_ = out_scale;
  negative_ = out_negative && !digits_.empty();
}

std::string ExactSum::ToString() const {
  if (digits_.empty()) return "0";
  std::string out = negative_ ? "-" : "";
  const int n = static_cast<int>(digits_.size());
  if (n <= scale_) {
    out += "0";
  } else {
    for (int i = n - 1; i >= scale_; --i) out += static_cast<char>('0' + digits_[i]);
  }
  if (scale_ > 0) {
    out += '.';
    for (int i = scale_ - 1; i >= 0; --i) {
      out += static_cast<char>('0' + (i < n ? digits_[i] : 0));
    }
  }
  return out;
}

}  // namespace shardex
