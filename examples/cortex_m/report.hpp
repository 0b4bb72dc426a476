// One line per classified image, made the same way on the board and on the host (no printf, no heap):
//   image 3: class 1, logits -1.234 5.678 ...
// each logit rounded to thousandths, so the test can compare the board's lines with the host's.
#pragma once

#include <cstddef>

namespace board {

/// Appends text to out[at..capacity); returns the new end (text past the capacity is dropped).
inline std::size_t append(char* out, std::size_t capacity, std::size_t at, const char* text) {
    while (*text && at + 1 < capacity) out[at++] = *text++;
    out[at] = '\0';
    return at;
}

/// Appends a non-negative integer in decimal.
inline std::size_t append(char* out, std::size_t capacity, std::size_t at, unsigned long long value) {
    char digits[24];
    std::size_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value);
    char text[24];
    for (std::size_t i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
    text[n] = '\0';
    return append(out, capacity, at, text);
}

/// Appends x rounded to thousandths ("-12.345"); x must be finite and below 1e15 in magnitude.
inline std::size_t append_milli(char* out, std::size_t capacity, std::size_t at, float x) {
    const double scaled = static_cast<double>(x) * 1000.0;
    const bool negative = scaled < 0;
    const auto milli = static_cast<unsigned long long>((negative ? -scaled : scaled) + 0.5);
    if (negative && milli) at = append(out, capacity, at, "-");
    at = append(out, capacity, at, milli / 1000);
    at = append(out, capacity, at, ".");
    const unsigned long long frac = milli % 1000;
    if (frac < 100) at = append(out, capacity, at, "0");
    if (frac < 10) at = append(out, capacity, at, "0");
    return append(out, capacity, at, frac);
}

/// "image I: class C, logits L0 L1 ...\n" into out (capacity bytes); returns its length. A logit that
/// is not finite makes the line say so instead.
inline std::size_t result_line(char* out, std::size_t capacity, std::size_t image, const float* logits, std::size_t classes) {
    std::size_t top = 0;
    bool finite = true;
    for (std::size_t c = 0; c < classes; ++c) {
        finite = finite && logits[c] == logits[c] && logits[c] < 1e15f && logits[c] > -1e15f;
        if (logits[c] > logits[top]) top = c;
    }
    std::size_t at = append(out, capacity, 0, "image ");
    at = append(out, capacity, at, image);
    if (!finite) return append(out, capacity, at, ": a logit is not finite\n");
    at = append(out, capacity, at, ": class ");
    at = append(out, capacity, at, top);
    at = append(out, capacity, at, ", logits");
    for (std::size_t c = 0; c < classes; ++c) {
        at = append(out, capacity, at, " ");
        at = append_milli(out, capacity, at, logits[c]);
    }
    return append(out, capacity, at, "\n");
}

}  // namespace board
