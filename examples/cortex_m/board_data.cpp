// The Cortex-M example's data, linked into flash as they are: the weight image (at a 64-byte boundary,
// as the model requires) and the images, from the folder BOARD_DATA names (a quoted string), where
// einvit_cortex_m_pack wrote model.einvit and images.bin. A file of its own, so that the program is
// compiled once and linked with other data.
#if !defined(BOARD_DATA)
#error "BOARD_DATA: the folder, as a quoted string, where einvit_cortex_m_pack wrote model.einvit and images.bin"
#endif

asm(".section .rodata.board_data,\"a\",%progbits\n"
    ".balign 64\n"
    ".global board_weights\nboard_weights:\n.incbin \"" BOARD_DATA "/model.einvit\"\n"
    ".global board_weights_end\nboard_weights_end:\n"
    ".balign 4\n"  // floats
    ".global board_images\nboard_images:\n.incbin \"" BOARD_DATA "/images.bin\"\n"
    ".global board_images_end\nboard_images_end:\n"
    ".text\n");
