// The parts of stb the examples use, compiled once: stb_image's BMP reader (PNG and JPEG go to libpng
// and libjpeg-turbo, decode.hpp) and its inflater (einvit-classify's gzip reader), and stb_image_write's
// PNG writer (einvit-attention-map). Only these are compiled, so no other format's reader can be
// reached by a file that merely starts like a BMP.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_BMP
#define STBI_SUPPORT_ZLIB
#define STBI_NO_STDIO
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
