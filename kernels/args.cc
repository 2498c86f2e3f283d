#include "kernels/args.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/text_checks.h"

namespace shardex {
namespace {

constexpr uint64_t kMaxUint64 = std::numeric_limits<uint64_t>::max();

// Exponents beyond this overflow any mantissa other than 0, so larger ones
// are clamped here instead of being parsed exactly.
constexpr uint64_t kExponentCap = 1000;

// Text a client sent, as it appears in an error message: cut short so a
// message stays small whatever was sent.
std::string Cut(absl::string_view text) {
  constexpr size_t kMaxShown = 64;
  if (text.size() <= kMaxShown) return std::string(text);
  return absl::StrCat(text.substr(0, kMaxShown), "...");
}

// The same, escaped, for text holding control bytes.
std::string Shown(absl::string_view text) {
  return absl::CHexEscape(Cut(text));
}

// Names and values must be text a command line could carry.
absl::Status CheckArgText(const std::string& name, const std::string& value) {
  if (name.empty()) {
    return absl::InvalidArgumentError("args: an argument with an empty name");
  }
  if (HasNul(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "args: the argument name \"", Shown(name), "\" contains a NUL byte"));
  }
  return CheckNoNul(
      absl::StrCat("args[\"", Cut(name), "\"] (--", Cut(name), ")"), value);
}

const KernelParam* FindParam(absl::Span<const KernelParam> params,
                             absl::string_view name) {
  for (const KernelParam& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// "P@as-submitted" for a path parameter P (kAsSubmitted in kernel.h).
bool IsAsSubmittedName(absl::Span<const KernelParam> params,
                       const std::string& name) {
  if (!absl::EndsWith(name, kAsSubmitted)) return false;
  const KernelParam* base =
      FindParam(params, name.substr(0, name.size() - strlen(kAsSubmitted)));
  return base != nullptr && base->is_path;
}

// Consumes `digit+ ('_' digit+)*` from the front of `*s` and returns the
// digits without underscores, or nullopt if `*s` does not start that way or
// an underscore is not between two digits.
std::optional<std::string> ConsumeDigits(absl::string_view* s) {
  std::string digits;
  size_t i = 0;
  while (i < s->size()) {
    const char c = (*s)[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    } else if (c == '_') {
      const bool next_is_digit =
          i + 1 < s->size() &&
          absl::ascii_isdigit(static_cast<unsigned char>((*s)[i + 1]));
      if (digits.empty() || !next_is_digit) return std::nullopt;
    } else {
      break;
    }
    ++i;
  }
  if (digits.empty()) return std::nullopt;
  s->remove_prefix(i);
  return digits;
}

// Decimal digit string to integer; nullopt on overflow.
std::optional<uint64_t> DigitsValue(absl::string_view digits) {
  uint64_t value = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(value, uint64_t{10}, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(c - '0'), &value)) {
      return std::nullopt;
    }
  }
  return value;
}

// Like DigitsValue, but saturates at kExponentCap instead of failing.
uint64_t ExponentValue(absl::string_view digits) {
  std::optional<uint64_t> e = DigitsValue(digits);
  return (e.has_value() && *e < kExponentCap) ? *e : kExponentCap;
}

// base^exp; nullopt on overflow.
std::optional<uint64_t> Power(uint64_t base, uint64_t exp) {
  if (base <= 1) return (exp == 0) ? 1 : base;
  uint64_t result = 1;
  for (uint64_t i = 0; i < exp; ++i) {  // exp < 64 or we overflow first
    if (__builtin_mul_overflow(result, base, &result)) return std::nullopt;
  }
  return result;
}

// mantissa digits (fraction included) times 10^(exp - fraction_digits);
// nullopt on overflow, and `*whole` = false if the result has a fraction.
std::optional<uint64_t> ScaledValue(std::string digits,
                                    uint64_t fraction_digits, uint64_t exp,
                                    bool* whole) {
  *whole = true;
  // Trailing zeros of the fraction do not make "2.50e1" fractional.
  while (fraction_digits > exp && !digits.empty() && digits.back() == '0') {
    digits.pop_back();
    --fraction_digits;
  }
  if (digits.empty() || digits.find_first_not_of('0') == std::string::npos) {
    return 0;  // 0.000e999 is zero, however large the exponent
  }
  if (fraction_digits > exp) {
    *whole = false;
    return std::nullopt;
  }
  std::optional<uint64_t> mantissa = DigitsValue(digits);
  std::optional<uint64_t> scale = Power(10, exp - fraction_digits);
  uint64_t value = 0;
  if (!mantissa.has_value() || !scale.has_value() ||
      __builtin_mul_overflow(*mantissa, *scale, &value)) {
    return std::nullopt;
  }
  return value;
}

absl::Status NotAnInteger(absl::string_view name, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--", name, ": '", Cut(text), "' is not a non-negative integer"));
}

absl::Status TooLarge(absl::string_view name, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--", name, ": '", Cut(text), "' exceeds the maximum ", kMaxUint64));
}

}  // namespace

absl::StatusOr<KernelArgs> ResolveArgs(absl::string_view kernel,
                                       absl::Span<const KernelParam> params,
                                       const KernelArgs& args) {
  for (const auto& [name, value] : args) {
    if (absl::Status st = CheckArgText(name, value); !st.ok()) return st;
    if (!IsAsSubmittedName(params, name) &&
        FindParam(params, name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown argument --", Cut(name), " for kernel ", kernel));
    }
  }
  KernelArgs resolved = args;
  for (const KernelParam& p : params) {
    if (resolved.count(p.name) > 0) continue;
    if (p.required) {
      return absl::InvalidArgumentError(absl::StrCat(
          "missing required argument --", p.name, " for kernel ", kernel));
    }
    if (!p.default_value.empty()) resolved[p.name] = p.default_value;
  }
  return resolved;
}

std::string AsSubmitted(const KernelArgs& args, const std::string& param) {
  auto it = args.find(param + kAsSubmitted);
  return it == args.end() ? "" : it->second;
}

absl::StatusOr<uint64_t> ParseUint64Arg(absl::string_view name,
                                        absl::string_view text) {
  absl::string_view rest = text;
  std::optional<std::string> digits = ConsumeDigits(&rest);
  if (!digits.has_value()) return NotAnInteger(name, text);

  std::optional<uint64_t> value;
  if (rest.empty()) {
    value = DigitsValue(*digits);
  } else if (rest.front() == '^') {
    rest.remove_prefix(1);
    std::optional<std::string> exp = ConsumeDigits(&rest);
    if (!exp.has_value() || !rest.empty()) return NotAnInteger(name, text);
    std::optional<uint64_t> base = DigitsValue(*digits);
    if (base.has_value()) value = Power(*base, ExponentValue(*exp));
  } else {
    uint64_t fraction_digits = 0;
    if (rest.front() == '.') {
      rest.remove_prefix(1);
      std::optional<std::string> fraction = ConsumeDigits(&rest);
      if (!fraction.has_value()) return NotAnInteger(name, text);
      fraction_digits = fraction->size();
      *digits += *fraction;
    }
    uint64_t exp = 0;
    if (!rest.empty() && (rest.front() == 'e' || rest.front() == 'E')) {
      rest.remove_prefix(1);
      std::optional<std::string> exp_digits = ConsumeDigits(&rest);
      if (!exp_digits.has_value()) return NotAnInteger(name, text);
      exp = ExponentValue(*exp_digits);
    }
    if (!rest.empty()) return NotAnInteger(name, text);
    bool whole = true;
    value = ScaledValue(*std::move(digits), fraction_digits, exp, &whole);
    if (!whole) return NotAnInteger(name, text);
  }
  if (!value.has_value()) return TooLarge(name, text);
  return *value;
}

absl::StatusOr<uint64_t> GetUint64Arg(const KernelArgs& args,
                                      const std::string& name,
                                      uint64_t if_absent) {
  auto it = args.find(name);
  if (it == args.end()) return if_absent;
  return ParseUint64Arg(name, it->second);
}

absl::Status CheckArgRange(absl::string_view name, uint64_t value, uint64_t min,
                           uint64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  if (max == kMaxUint64) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be at least ", min, ", got ", value));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--", name, " must be between ", min, " and ", max, ", got ", value));
}

}  // namespace shardex
