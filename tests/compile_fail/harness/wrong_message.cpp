// Harness self-check: the failing variant fails, but not with the expected message, so the harness must
// report a failure.
// expect: a message no compiler prints for this file
int main() {
#ifdef EINVIT_COMPILE_FAIL
    static_assert(sizeof(int) == 0, "something else went wrong");
#endif
    return 0;
}
