// The checks of the programs built without exceptions (no_exceptions.cpp, no_heap.cpp): a failed one
// prints FAILED and what it checked, and the program ends with failures() != 0.
#pragma once

#include <cstdio>

namespace expect_detail {
inline int failures = 0;
}

inline void expect(bool ok, const char* what) {
    if (!ok) {
        std::printf("FAILED: %s\n", what);
        ++expect_detail::failures;
    }
}

inline int failures() { return expect_detail::failures; }
