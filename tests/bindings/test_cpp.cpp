// Tests of bindings/cpp/difflm.hpp against the shared library.
// usage: test_cpp MODEL.gguf [HF-FOLDER HF-FOLDER.gguf [BLOCK_MODEL.gguf]]: the folder and
// the GGUF of its weights, a block-causal model (block length 8)
#include "difflm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

static_assert(!std::is_copy_constructible<difflm::context>::value, "move-only");
static_assert(!std::is_copy_assignable<difflm::context>::value, "move-only");
static_assert(std::is_nothrow_move_constructible<difflm::context>::value, "cheap moves");
static_assert(std::is_nothrow_move_assignable<difflm::context>::value, "cheap moves");

static_assert(std::is_copy_constructible<difflm::model>::value, "shared_ptr semantics");
static_assert(std::is_nothrow_move_constructible<difflm::model>::value, "cheap moves");

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

// context_params.precision reaches the library on both creation paths.
static void test_precision(const char *path) {
    std::vector<difflm::token> ids;
    for (difflm::token t = 10; t < 40; t++) ids.push_back(t);
    difflm::context_params p;
    p.model_path = path;
    p.n_threads = 1;
    std::vector<float> exact = difflm::context(p).logits(ids);
    p.precision = DIFFLM_PRECISION_BF16;
    std::vector<float> by_path = difflm::context(p).logits(ids);
    difflm::model m(path);
    difflm::context_params q;
    q.n_threads = 1;
    q.precision = DIFFLM_PRECISION_BF16;
    std::vector<float> on_model = difflm::context(m, q).logits(ids);
    CHECK(exact != by_path);      // bf16 products ran
    CHECK(by_path == on_model);
    float worst = 0;
    for (std::size_t i = 0; i < exact.size(); i++)
        worst = std::max(worst, std::fabs(exact[i] - by_path[i]));
    CHECK(worst < 0.5f);
    q.precision = 2;
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { difflm::context c(m, q); });
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

// A Hugging Face folder opens like a file and is the same model as its GGUF.
static void test_folder(const char *folder, const char *gguf) {
    difflm::context f = open(folder), g = open(gguf);
    CHECK(f.info().n_vocab == g.info().n_vocab && f.info().mask_id == g.info().mask_id);
    CHECK(f.info().n_params == g.info().n_params);
    const std::string text = "Hello <|eot_id|> world, 123";
    CHECK(f.tokenize(text) == g.tokenize(text));
    CHECK(f.tokenize(text, DIFFLM_TOKENIZE_PARSE_SPECIAL) == g.tokenize(text, DIFFLM_TOKENIZE_PARSE_SPECIAL));
    std::vector<difflm::token> ids = f.tokenize(text, DIFFLM_TOKENIZE_PARSE_SPECIAL | DIFFLM_TOKENIZE_ADD_BOS);
    CHECK(ids.size() > 3 && ids[0] == f.info().bos_id);
    CHECK(f.logits(ids) == g.logits(ids));
    f.begin(ids, small());
    while (f.step()) {
    }
    g.begin(ids, small());
    while (g.step()) {
    }
    CHECK(f.canvas() == g.canvas());
    CHECK(f.canvas().size() == ids.size() + 16);
    std::string missing = std::string(folder) + "/no-such-dir";
    std::string msg = expect_throw<difflm::error>(DIFFLM_E_IO, [&] { open(missing.c_str()); });
    CHECK(msg.find("no-such-dir") != std::string::npos);
}

// ---------------------------------------------------------------- models

static std::vector<char> file_bytes(const char *path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// 32-byte aligned storage holding bytes at offset misalign (a view of it, kept by owner).
struct aligned_image {
    std::shared_ptr<std::vector<std::max_align_t>> store;
    const char *data = nullptr;
    std::size_t size = 0;
};

static aligned_image aligned_copy(const std::vector<char> &bytes, std::size_t misalign) {
    aligned_image im;
    im.store = std::make_shared<std::vector<std::max_align_t>>(bytes.size() / sizeof(std::max_align_t) + 8);
    auto base = reinterpret_cast<std::uintptr_t>(im.store->data());
    char *at = reinterpret_cast<char *>(base + (32 - base % 32) % 32 + misalign);
    std::memcpy(at, bytes.data(), bytes.size());
    im.data = at;
    im.size = bytes.size();
    return im;
}

// The final canvas of one generation on ctx.
static std::vector<difflm::token> final_canvas(difflm::context &ctx) {
    difflm::gen_params g = small();
    g.temperature = 0.8f;
    g.seed = 5;
    ctx.begin(ctx.prompt_ids("Once upon"), g);
    while (ctx.step()) {
    }
    return ctx.canvas();
}

static difflm::context_params one_thread() {
    difflm::context_params p;
    p.n_threads = 1;
    return p;
}

static void test_model(const char *path) {
    difflm::context solo = open(path);
    const std::vector<difflm::token> want = final_canvas(solo);

    // two contexts on one model, generating at once, give the path context's tokens
    difflm::model m(path);
    CHECK(m);
    difflm_model_info info = m.info();
    CHECK(info.max_canvas == 0);
    CHECK(info.n_vocab == solo.info().n_vocab && info.mask_id == solo.info().mask_id);
    std::vector<difflm::token> got[2];
    {
        difflm::context a(m, one_thread()), b(m, one_thread());
        CHECK(a.shared_model().get() == m.get());
        std::thread ta([&] { got[0] = final_canvas(a); });
        std::thread tb([&] { got[1] = final_canvas(b); });
        ta.join();
        tb.join();
    }
    CHECK(got[0] == want);
    CHECK(got[1] == want);

    // the model outlives its handles: a context keeps it
    difflm::context kept;
    {
        difflm::model local(path);
        difflm::context_params p = one_thread();
        p.max_canvas = 64;
        kept = difflm::context(local, p);
        CHECK(kept.info().max_canvas == 64);
    }
    CHECK(final_canvas(kept) == want);

    // memory_required grows with the context
    difflm::context_params small_p, big_p, batch_p;
    small_p.max_canvas = 32;
    big_p.max_canvas = 128;
    batch_p.max_canvas = 128;
    batch_p.max_batch = 4;
    CHECK(m.memory_required(small_p) > 0);
    CHECK(m.memory_required(small_p) < m.memory_required(big_p));
    CHECK(m.memory_required(big_p) < m.memory_required(batch_p));
    difflm::context_params bad;
    bad.n_threads = -1;
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { (void)m.memory_required(bad); });
    std::string msg = expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { difflm::context c(m, bad); });
    CHECK(msg.find("n_threads") != std::string::npos);
    difflm::context_params with_path;
    with_path.model_path = path;
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { difflm::context c(m, with_path); });
    expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG, [&] { difflm::context c{difflm::model()}; });

    // memory: in place with the owner kept by the model, identical tokens
    const std::vector<char> bytes = file_bytes(path);
    CHECK(!bytes.empty());
    difflm::context from_mem;
    {
        aligned_image im = aligned_copy(bytes, 0);
        std::weak_ptr<std::vector<std::max_align_t>> watch = im.store;
        difflm::model mm = difflm::model::from_memory(im.data, im.size, {}, im.store);
        from_mem = difflm::context(mm, one_thread());
        im.store.reset();
        CHECK(!watch.expired());  // the model keeps its owner ...
        CHECK(final_canvas(from_mem) == want);
        mm = difflm::model();
        CHECK(!watch.expired());  // ... and so does its context
        from_mem = difflm::context();
        CHECK(watch.expired());   // released with the last of them
    }

    // a reader (an asset inside a pack), identical tokens
    std::vector<char> pack(4000 + bytes.size(), 'j');
    std::memcpy(pack.data() + 4000, bytes.data(), bytes.size());
    std::uint64_t furthest = 0;
    difflm::model mr = difflm::model::from_reader(
        [&](std::uint64_t off, void *dst, std::size_t n) {
            if (off + n > bytes.size()) throw std::out_of_range("past the image");
            std::memcpy(dst, pack.data() + 4000 + off, n);
            furthest = std::max<std::uint64_t>(furthest, off + n);
        },
        bytes.size());
    CHECK(furthest == bytes.size());
    difflm::context from_reader(mr, one_thread());
    CHECK(final_canvas(from_reader) == want);

    // bad bytes: the library's status and message, never a crash
    std::vector<char> garbage_w = {'G', 'G', 'U', 'F'};
    garbage_w.resize(64, '\xff');
    const std::vector<char> garbage = garbage_w;
    const std::vector<char> truncated(bytes.begin(), bytes.begin() + (long)bytes.size() / 2);
    for (const std::vector<char> *bad_bytes : {&garbage, &truncated}) {
        aligned_image im = aligned_copy(*bad_bytes, 0);
        msg = expect_throw<difflm::error>(DIFFLM_E_FORMAT,
                                          [&] { (void)difflm::model::from_memory(im.data, im.size); });
        CHECK(msg.find("difflm_model_load") != std::string::npos);
        std::error_code ec;
        std::string text;
        difflm::model none = difflm::model::from_reader(
            [&](std::uint64_t off, void *dst, std::size_t n) { std::memcpy(dst, bad_bytes->data() + off, n); },
            bad_bytes->size(), {}, ec, &text);
        CHECK(!none);
        CHECK(ec.value() == DIFFLM_E_FORMAT);
        CHECK(!text.empty());
    }
    aligned_image off = aligned_copy(bytes, 1);
    msg = expect_throw<difflm::error>(DIFFLM_E_INVALID_ARG,
                                      [&] { (void)difflm::model::from_memory(off.data, off.size); });
    CHECK(msg.find("aligned") != std::string::npos);
    msg = expect_throw<difflm::error>(DIFFLM_E_IO, [&] {
        (void)difflm::model::from_reader(
            [](std::uint64_t, void *, std::size_t) { throw std::runtime_error("the disk is on fire"); },
            bytes.size());
    });
    CHECK(msg.find("the disk is on fire") != std::string::npos);
    std::error_code ec;
    std::string text;
    difflm::model missing("/nonexistent/m.gguf", {}, ec, &text);
    CHECK(!missing && ec.value() == DIFFLM_E_IO);
    CHECK(text.find("/nonexistent/m.gguf") != std::string::npos);
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 4 && argc != 5)
        return std::fprintf(stderr, "usage: %s MODEL.gguf [HF-FOLDER HF-FOLDER.gguf [BLOCK_MODEL.gguf]]\n",
                            argv[0]), 2;
    if (argc >= 4) test_folder(argv[2], argv[3]);
    test_errors(argv[1]);
    test_tokens(argv[1]);
    test_generate_and_steps(argv[1]);
    test_cancel(argv[1]);
    test_logits(argv[1]);
    test_precision(argv[1]);
    test_score(argv[1]);
    test_infill(argv[1]);
    test_moves(argv[1]);
    test_batch(argv[1]);
    test_model(argv[1]);
    if (argc == 5) test_block(argv[4], argv[1]);
    if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
    else std::printf("all C++ binding checks passed\n");
    return failures ? 1 : 0;
}
