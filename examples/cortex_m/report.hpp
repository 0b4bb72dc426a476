// One line per classified image, made the same way on the board and on the host, in an einvit::message
// (no heap, no printf):
//   image 3: class 1, logits -1.234 5.678 ...
// each logit rounded to thousandths, so the test can compare the board's lines with the host's.
#pragma once

#include <einvit/core/error.hpp>

#include <cstddef>

namespace board {

/// Appends x rounded to thousandths ("-12.345"); x must be finite and below 1e15 in magnitude.
inline einvit::message& append_milli(einvit::message& text, float x) {
    const double scaled = static_cast<double>(x) * 1000.0;
    const bool negative = scaled < 0;
    const auto milli = static_cast<unsigned long long>((negative ? -scaled : scaled) + 0.5);
    if (negative && milli) text += "-";
    const unsigned long long fraction = milli % 1000;
    return text.append(milli / 1000, ".", fraction < 100 ? "0" : "", fraction < 10 ? "0" : "", fraction);
}

/// "image I: class C, logits L0 L1 ...\n"; a logit that is not finite makes the line say so instead.
inline einvit::message result_line(std::size_t image, const float* logits, std::size_t classes) {
    std::size_t top = 0;
    bool finite = true;
    for (std::size_t c = 0; c < classes; ++c) {
        finite = finite && logits[c] == logits[c] && logits[c] < 1e15f && logits[c] > -1e15f;
        if (logits[c] > logits[top]) top = c;
    }
    einvit::message line("image ", image);
    if (!finite) {
        line += ": a logit is not finite\n";
        return line;
    }
    line.append(": class ", top, ", logits");
    for (std::size_t c = 0; c < classes; ++c) append_milli(line += " ", logits[c]);
    line += "\n";
    return line;
}

}  // namespace board
