// cpp_example.cpp - the C++ wrapper (bindings/cpp/difflm.hpp): generate, then step through
// a second generation and print the canvas; errors arrive as difflm::error.
// usage: cpp_example MODEL.gguf ["prompt"]
#include "difflm.hpp"

#include <cstdio>
#include <string>

int main(int argc, char **argv) {
    if (argc < 2) return std::fprintf(stderr, "usage: %s MODEL.gguf [PROMPT]\n", argv[0]), 2;
    std::string prompt = argc > 2 ? argv[2] : "The Lord said";
    try {
        difflm::context ctx(argv[1]);
        difflm::gen_params g;
        g.gen_length = 32;
        g.steps = 16;
        g.block_length = 16;
        std::printf("generate: %s\n", ctx.generate(prompt, g).c_str());

        difflm_token mask = ctx.info().mask_id;
        std::vector<difflm::token> ids = ctx.prompt_ids(prompt);
        ctx.begin(ids, g);
        for (int step = 1; ; step++) {
            bool more = ctx.step();
            std::vector<difflm::token> canvas = ctx.canvas();
            std::string shown;
            for (size_t i = ids.size(); i < canvas.size(); i++) shown += canvas[i] == mask ? '_' : '#';
            std::printf("step %2d: %s\n", step, shown.c_str());
            if (!more) break;
        }
        std::vector<difflm::token> canvas = ctx.canvas();
        canvas.erase(canvas.begin(), canvas.begin() + static_cast<long>(ids.size()));
        std::printf("final: %s\n", ctx.detokenize(canvas).c_str());
    } catch (const difflm::error &e) {
        std::fprintf(stderr, "error %d: %s\n", e.code(), e.message().c_str());
        return 1;
    }
    return 0;
}
