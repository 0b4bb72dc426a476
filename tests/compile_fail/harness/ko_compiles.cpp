// Harness self-check: the "failing" variant of this case compiles, so the harness must report a failure.
// expect: this text is never printed
int main() { return 0; }
