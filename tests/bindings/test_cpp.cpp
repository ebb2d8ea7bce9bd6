// Tests of bindings/cpp/difflm.hpp against the shared library.
// usage: test_cpp MODEL.gguf BLOCK_MODEL.gguf (the second block-causal, block length 8)
#include "difflm.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

static_assert(!std::is_copy_constructible<difflm::context>::value, "move-only");
static_assert(!std::is_copy_assignable<difflm::context>::value, "move-only");
static_assert(std::is_nothrow_move_constructible<difflm::context>::value, "cheap moves");
static_assert(std::is_nothrow_move_assignable<difflm::context>::value, "cheap moves");

static int failures = 0;
#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

// Runs f, which must throw E with the given code; returns the exception's message.
template <class E, class F>
static std::string expect_throw(int code, F f) {
    try {
        f();
    } catch (const E &e) {
        CHECK(e.code() == code);
        CHECK(!e.message().empty());
        return e.message();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    }
    failures++;
    std::fprintf(stderr, "expected an exception with code %d\n", code);
    return "";
}

static difflm::gen_params small() {
    difflm::gen_params g;
    g.gen_length = 16;
    g.steps = 8;
    g.block_length = 8;
    return g;
}

static difflm::context open(const char *model) {
    difflm::context_params p;
    p.model_path = model;
    p.n_threads = 1;
    return difflm::context(p);
}

static void test_errors(const char *model) {
    std::string msg = expect_throw<difflm::error>(DIFFLM_E_IO, [] { difflm::context c("/nonexistent/m.gguf"); });
    CHECK(msg.find("/nonexistent/m.gguf") != std::string::npos);

    difflm::context_params p;
    p.model_path = "/nonexistent/m.gguf";
    std::vector<std::string> logged;
    p.log = [&](int32_t, std::string_view m) { logged.emplace_back(m); };
    std::error_code ec;
    std::string message;
    difflm::context c(p, ec, &message);
    CHECK(!c);
    CHECK(ec.value() == DIFFLM_E_IO);
    CHECK(ec.category() == difflm::category());
    CHECK(std::string(ec.category().name()) == "difflm");
    CHECK(ec.message() == "cannot read or write a file");
    CHECK(message.find("/nonexistent/m.gguf") != std::string::npos);
    CHECK(!logged.empty());

    difflm::context ctx = open(model);
    int32_t n_vocab = ctx.info().n_vocab;
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { ctx.detokenize({1, n_vocab + 5}); });
    ctx.detokenize({1, n_vocab + 5}, 0, ec);
    CHECK(ec.value() == DIFFLM_E_INVALID_ARG);
    CHECK(!ctx.last_error().empty());
    difflm::gen_params bad = small();
    bad.gen_length = -3;
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { ctx.generate("x", bad); });
    expect_throw<difflm::error>(DIFFLM_E_STATE, [&] { ctx.canvas(); });
}

static void test_tokens(const char *model) {
    difflm::context ctx = open(model);
    for (std::string text : {"Hello world", "h\xc3\xa9llo w\xc3\xb6rld", "  spaces\n\ttabs", ""}) {
        CHECK(ctx.detokenize(ctx.tokenize(text)) == text);
    }
    std::vector<difflm::token> ids = ctx.tokenize("hi", DIFFLM_TOKENIZE_ADD_BOS);
    CHECK(!ids.empty() && ids[0] == ctx.info().bos_id);
    CHECK(ctx.detokenize(ids) == "hi");
}

static void test_generate_and_steps(const char *model) {
    difflm::context ctx = open(model);
    std::string a = ctx.generate("Once upon", small());
    CHECK(a == ctx.generate("Once upon", small()));

    std::vector<difflm::token> prompt = ctx.prompt_ids("Once upon");
    ctx.begin(prompt, small());
    difflm_model_info info = ctx.info();
    int steps = 0;
    long prev_masked = 1L << 30;
    bool more = true;
    while (more) {
        more = ctx.step();
        steps++;
        std::vector<difflm::token> c = ctx.canvas();
        CHECK(c.size() == prompt.size() + 16);
        CHECK(std::vector<difflm::token>(c.begin(), c.begin() + (long)prompt.size()) == prompt);
        long masked = 0;
        for (size_t i = prompt.size(); i < c.size(); i++) masked += c[i] == info.mask_id;
        CHECK(masked <= prev_masked);
        prev_masked = masked;
    }
    CHECK(steps == 8);
    CHECK(prev_masked == 0);
    std::error_code ec;
    CHECK(ctx.step(ec) == DIFFLM_DONE && !ec);

    // The step loop and difflm_sample agree on the text.
    std::vector<difflm::token> c = ctx.canvas();
    std::vector<difflm::token> gen(c.begin() + (long)prompt.size(), c.end());
    for (size_t i = 0; i < gen.size(); i++)
        if (gen[i] == info.eos_id || gen[i] == info.eot_id) {
            gen.resize(i);
            break;
        }
    CHECK(ctx.detokenize(gen) == a);

    std::vector<int> seen;
    ctx.generate("x", small(), [&](const difflm::step &s) {
        seen.push_back(s.index);
        CHECK(s.total_steps == 8);
        return false;
    });
    CHECK(seen.size() == 8 && seen.front() == 1 && seen.back() == 8);
}

struct hook_error : std::runtime_error {
    hook_error() : std::runtime_error("from the hook") {}
};

static void test_cancel(const char *model) {
    difflm::context ctx = open(model);
    ctx.begin(ctx.prompt_ids("Hello"), small());
    CHECK(ctx.step());
    std::thread([&ctx] { ctx.cancel(); }).join();  // another thread, while the context lives
    expect_throw<difflm::cancelled>(DIFFLM_E_CANCELLED, [&] { ctx.step(); });
    ctx.begin(ctx.prompt_ids("Hello"), small());
    ctx.cancel();
    std::error_code ec;
    CHECK(ctx.step(ec) == DIFFLM_E_CANCELLED && ec.value() == DIFFLM_E_CANCELLED);
    difflm::gen_params bad = small();
    bad.gen_length = -1;
    CHECK(ctx.generate("x", bad, ec).empty() && ec.value() == DIFFLM_E_INVALID_ARG);
    CHECK(!ctx.generate("x", small(), ec).empty() || !ec);
    CHECK(!ec);

    expect_throw<difflm::cancelled>(DIFFLM_E_CANCELLED, [&] {
        ctx.generate("x", small(), [](const difflm::step &s) { return s.index == 2; });
    });
    bool caught = false;
    try {
        ctx.generate("x", small(), [](const difflm::step &) -> bool { throw hook_error(); });
    } catch (const hook_error &) {
        caught = true;
    }
    CHECK(caught);
    CHECK(ctx.generate("x", small()) == ctx.generate("x", small()));  // still usable
}

static void test_score(const char *model) {
    difflm::context ctx = open(model);
    std::vector<difflm::token> prompt = ctx.prompt_ids("The Lord said");
    std::vector<difflm::token> ids = ctx.tokenize(" unto Moses", 0);
    difflm_score_params p = difflm::context::score_params();
    CHECK(p.mc == 128 && p.batch == 16);
    p.mc = 8;
    p.batch = 4;
    p.seed = 3;
    difflm_score_result a = ctx.score(ids, prompt, p), b = ctx.score(ids, prompt, p);
    CHECK(a.nll > 0.0 && a.nll == b.nll && a.var == b.var && a.n_iter == 2);
    CHECK(a.n_tokens == static_cast<int32_t>(ids.size()));
    CHECK(ctx.score({}, prompt, p).nll == 0.0);
    p.mc = 6;
    std::error_code ec;
    ctx.score(ids, prompt, p, ec);
    CHECK(ec.value() == DIFFLM_E_INVALID_ARG);
    p.mc = 8;
    ctx.cancel();
    expect_throw<difflm::cancelled>(DIFFLM_E_CANCELLED, [&] { ctx.score(ids, prompt, p); });
    CHECK(ctx.score(ids, prompt, p).nll == a.nll);
}

static void test_logits(const char *model) {
    difflm::context ctx = open(model);
    const difflm_model_info info = ctx.info();
    const std::size_t V = static_cast<std::size_t>(info.n_vocab);
    std::vector<difflm::token> ids = ctx.prompt_ids("Hello there");
    ids.push_back(info.mask_id);
    ids.push_back(info.mask_id);
    std::vector<float> all = ctx.logits(ids);
    CHECK(all.size() == ids.size() * V);
    std::vector<int32_t> rows = {static_cast<int32_t>(ids.size()) - 1, 0, 0};
    std::vector<float> some = ctx.logits(ids, rows);
    CHECK(some.size() == rows.size() * V);
    for (std::size_t i = 0; i < rows.size(); i++)
        CHECK(std::equal(some.begin() + static_cast<std::ptrdiff_t>(i * V),
                         some.begin() + static_cast<std::ptrdiff_t>((i + 1) * V),
                         all.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(rows[i]) * V)));
    CHECK(ctx.logits(ids, std::vector<int32_t>{}).empty());  // no rows, not every row
    std::error_code ec;
    CHECK(ctx.logits(ids, {static_cast<int32_t>(ids.size())}, ec).empty() &&
          ec.value() == DIFFLM_E_INVALID_ARG);
    std::vector<difflm::token> bad = ids;
    bad[1] = info.n_vocab;
    std::string msg = expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { ctx.logits(bad); });
    CHECK(msg.find("vocabulary") != std::string::npos);
    std::vector<difflm::token> too_long(static_cast<std::size_t>(info.max_canvas) + 1, 0);
    expect_throw<difflm::error>(DIFFLM_E_TOO_LONG, [&] { ctx.logits(too_long); });
    ctx.cancel();
    expect_throw<difflm::cancelled>(DIFFLM_E_CANCELLED, [&] { ctx.logits(ids); });
    CHECK(ctx.logits(ids) == all);  // the request was spent
    // Between steps: the generation ends as it would without the calls.
    difflm::gen_params g = small();
    ctx.begin(ctx.prompt_ids("Hello"), g);
    while (ctx.step()) CHECK(ctx.logits(ctx.canvas()).size() == ctx.canvas().size() * V);
    std::vector<difflm::token> peeked = ctx.canvas();
    ctx.begin(ctx.prompt_ids("Hello"), g);
    while (ctx.step()) {
    }
    CHECK(ctx.canvas() == peeked);
}

static void test_infill(const char *model) {
    difflm::context ctx = open(model);
    const difflm_model_info info = ctx.info();
    const difflm::token M = info.mask_id;
    std::vector<difflm::token> canvas = ctx.infill_canvas("In the<mask:4> was the<mask:2>.", 0);
    std::vector<difflm::token> want = ctx.tokenize("In the", 0);
    want.insert(want.end(), 4, M);
    std::vector<difflm::token> mid = ctx.tokenize(" was the", 0), end = ctx.tokenize(".", 0);
    want.insert(want.end(), mid.begin(), mid.end());
    want.insert(want.end(), 2, M);
    want.insert(want.end(), end.begin(), end.end());
    CHECK(canvas == want);
    difflm::gen_params g;
    g.steps = 6;
    g.block_length = 3;
    ctx.begin_canvas(canvas, g);
    int steps = 0;
    while (ctx.step()) steps++;
    CHECK(steps + 1 == 6);
    std::vector<difflm::token> out = ctx.canvas();
    std::vector<difflm::confidence> conf = ctx.confidences();
    CHECK(out.size() == canvas.size() && conf.size() == canvas.size());
    for (std::size_t i = 0; i < out.size() && i < conf.size(); i++) {
        CHECK(out[i] != M && conf[i].id == out[i]);
        if (canvas[i] == M)
            CHECK(conf[i].step >= 1 && conf[i].step <= 6 && conf[i].prob >= 0 && conf[i].prob <= 1);
        else
            CHECK(out[i] == canvas[i] && conf[i].step == DIFFLM_CONF_FIXED && conf[i].prob != conf[i].prob);
    }
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { ctx.infill_canvas("x<mask:0>"); });
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG,
                                [&] { ctx.begin_canvas(std::vector<difflm::token>{1, 2}, g); });
}

static void test_moves(const char *model) {
    difflm::context a = open(model);
    std::string want = a.generate("move", small());
    difflm::context b(std::move(a));
    CHECK(!a && b);
    CHECK(b.generate("move", small()) == want);
    difflm::context c;
    CHECK(!c);
    c = std::move(b);
    CHECK(!b && c);
    CHECK(c.generate("move", small()) == want);
    c = difflm::context();  // frees
    CHECK(!c);
}

// A batch gives each canvas its solo run's tokens; too many prompts and CFG throw.
static void test_batch(const char *model) {
    difflm::context_params p;
    p.model_path = model;
    p.n_threads = 2;
    p.max_batch = 3;
    difflm::context ctx(p);
    difflm::gen_params g = small();
    g.temperature = 0.7f;
    std::vector<std::vector<difflm::token>> prompts = {
        ctx.prompt_ids("Once upon"), ctx.prompt_ids("The Lord said unto"), {1, 300, 42}};
    std::vector<uint64_t> seeds = {7, 8, 9};
    auto canvases = ctx.generate_batch(prompts, g, seeds);
    CHECK(canvases.size() == 3);
    for (size_t i = 0; i < prompts.size(); i++) {
        difflm::gen_params gi = g;
        gi.seed = seeds[i];
        ctx.begin(prompts[i], gi);
        while (ctx.step()) {
        }
        CHECK(ctx.canvas() == canvases[i]);
    }
    auto four = prompts;
    four.push_back({1});
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { ctx.batch_begin(four, g); });
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { ctx.batch_begin(prompts, g, {1}); });
    difflm::gen_params cfg = g;
    cfg.cfg_scale = 1.0f;
    expect_throw<difflm::error>(DIFFLM_E_UNSUPPORTED, [&] { ctx.batch_begin(prompts, cfg); });
    expect_throw<difflm::error>(DIFFLM_E_STATE, [&] { ctx.batch_step(); });
}

// The block diffusion fields gen_params inherits from difflm_gen_params, on a
// block-causal model: the canvas, and the number of steps, of one generation.
static std::vector<difflm::token> block_run(difflm::context &ctx, const difflm::gen_params &g,
                                            int &steps) {
    std::vector<difflm::token> prompt;
    for (int i = 0; i < 7; i++) prompt.push_back(300 + i);
    ctx.begin(prompt, g);
    steps = 0;
    for (bool more = true; more; steps++) more = ctx.step();
    return ctx.canvas();
}

static void test_block(const char *block_model, const char *plain_model) {
    difflm::context ctx = open(block_model);
    CHECK(ctx.info().block_length == 8);
    CHECK(open(plain_model).info().block_length == 0);
    difflm::gen_params g;
    g.gen_length = 20;
    g.steps = 16;
    int n_auto = 0, n = 0;
    std::vector<difflm::token> autoc = block_run(ctx, g, n_auto);
    CHECK(autoc.size() == 32);   // 7 + 20 padded to whole blocks of 8
    CHECK(std::find(autoc.begin(), autoc.end(), ctx.info().mask_id) == autoc.end());
    difflm::gen_params e = g;
    e.schedule = DIFFLM_SCHEDULE_BLOCK_DIFFUSION;
    CHECK(block_run(ctx, e, n) == autoc && n == n_auto);
    e.block_threshold = 0.5f;
    e.editing_threshold = 0.2f;
    e.max_post_steps = 3;
    int n_cached = 0;
    std::vector<difflm::token> cached = block_run(ctx, e, n_cached);
    e.flags = DIFFLM_GEN_BLOCK_RECOMPUTE;
    CHECK(block_run(ctx, e, n) == cached && n == n_cached);
    e = g;
    e.block_threshold = 1.0f;   // the counts: 4 steps a block, 1 for the first's one MASK
    block_run(ctx, e, n);
    CHECK(n == 13);
    e.block_threshold = 1.5f;
    std::string msg = expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { block_run(ctx, e, n); });
    CHECK(msg.find("block_threshold") != std::string::npos);
    e = g;
    e.editing_threshold = 1.0f;
    msg = expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { block_run(ctx, e, n); });
    CHECK(msg.find("editing_threshold") != std::string::npos);
}

int main(int argc, char **argv) {
    if (argc < 3) return std::fprintf(stderr, "usage: %s MODEL.gguf BLOCK_MODEL.gguf\n", argv[0]), 2;
    test_errors(argv[1]);
    test_tokens(argv[1]);
    test_generate_and_steps(argv[1]);
    test_cancel(argv[1]);
    test_logits(argv[1]);
    test_score(argv[1]);
    test_infill(argv[1]);
    test_moves(argv[1]);
    test_batch(argv[1]);
    test_block(argv[2], argv[1]);
    if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
    else std::printf("all C++ binding checks passed\n");
    return failures ? 1 : 0;
}
