// difflm.hpp - header-only C++17 RAII wrapper over difflm.h.
//
//     difflm::context ctx("model.gguf");                 // throws difflm::error
//     difflm::gen_params g;                              // difflm_gen_params_init defaults
//     g.gen_length = 64; g.steps = 64;
//     std::string text = ctx.generate("The Lord said", g);
//
//     ctx.begin(ctx.prompt_ids("Once upon"), g);         // or step by step
//     while (ctx.step()) show(ctx.canvas());             // false once DONE
//
//     difflm::model m("model.gguf");                     // one model, several contexts
//     difflm::context a(m), b(m);                        // sharing its weights
//
// Every throwing call has a twin taking `std::error_code &ec` that does not throw: ec is
// set to the status (category difflm::category()) and ctx.last_error() holds the message.
// Thread safety is the C API's: a model is read-only once loaded, so its const calls and
// creating contexts from it are safe from any number of threads; a context is used by one
// thread at a time, but cancel() works from anywhere while the context exists. A model
// has shared_ptr semantics (copies share one load; the last copy or context frees it); a
// context is move-only and keeps its model alive.
#ifndef DIFFLM_HPP
#define DIFFLM_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "difflm.h"

namespace difflm {

using token = difflm_token;

// ---------------------------------------------------------------- errors

class status_category : public std::error_category {
  public:
    const char *name() const noexcept override { return "difflm"; }
    std::string message(int status) const override { return difflm_status_str(status); }
};

inline const std::error_category &category() noexcept {
    static const status_category c;
    return c;
}

inline std::error_code make_error_code(int status) noexcept { return {status, category()}; }

// A failed call: the DIFFLM_E_* code and the library's message.
class error : public std::runtime_error {
  public:
    error(int code, const std::string &message)
        : std::runtime_error(std::string(difflm_status_str(code)) + ": " + message),
          code_(code), message_(message) {}
    int code() const noexcept { return code_; }
    const std::string &message() const noexcept { return message_; }
    std::error_code error_code() const noexcept { return make_error_code(code_); }

  private:
    int code_;
    std::string message_;
};

// DIFFLM_E_CANCELLED: cancel() or a step callback stopped generation.
class cancelled : public error {
  public:
    using error::error;
};

[[noreturn]] inline void throw_status(int code, const std::string &message) {
    const std::string &text = message.empty() ? std::string(difflm_status_str(code)) : message;
    if (code == DIFFLM_E_CANCELLED) throw cancelled(code, text);
    throw error(code, text);
}

// ---------------------------------------------------------------- parameters

// difflm_gen_params with the library's defaults.
struct gen_params : difflm_gen_params {
    gen_params() noexcept : difflm_gen_params() { difflm_gen_params_init(this); }
};

// How to create a context. log receives (level, message) on the calling thread.
// model_path is for context(params) only: a context on a difflm::model leaves it empty
// and mask_token_id at -1 (those are the model's, model_params).
struct context_params {
    std::string model_path;
    int32_t n_threads = 0;
    int32_t max_canvas = 0;
    int32_t mask_token_id = -1;
    int32_t log_level = DIFFLM_LOG_WARN;
    std::function<void(int32_t, std::string_view)> log;
    int32_t max_batch = 1;          // most canvases batch_begin takes
    // DIFFLM_PRECISION_EXACT (f32 products) or DIFFLM_PRECISION_BF16 (products over
    // F32/F16/BF16 weights with bf16 operands and f32 sums; quantized weights unaffected)
    int32_t precision = DIFFLM_PRECISION_EXACT;
    // DIFFLM_PACK_AUTO, _OFF or _ON: whether the float weights are packed once for the
    // products (the same results; memory for speed)
    int32_t pack_weights = DIFFLM_PACK_AUTO;
};

// One canvas position's difflm_confidences entry (doc/sampling.md "Confidences").
struct confidence {
    token id = -1;        // its id; for a MASK the last step's candidate, or -1
    int32_t step = 0;     // 1-based step that committed it; DIFFLM_CONF_FIXED, DIFFLM_CONF_MASKED
    float prob = 0;       // the model's probability of id (NaN where none)
    float score = 0;      // the remasking rule's confidence (NaN where none)
};

// The canvas after one step (a copy).
struct step {
    int32_t index = 0, total_steps = 0, n_committed = 0, n_masked = 0;
    std::size_t prompt_length = 0;
    std::vector<token> canvas;
};

inline std::string version() { return difflm_version(); }

// ---------------------------------------------------------------- model

// How to load a model. log receives (level, message) on the thread that loads the model,
// and on the thread that frees it last (which may be a context's), so it must be safe to
// call from that thread.
struct model_params {
    int32_t mask_token_id = -1;     // -1: the file's
    int32_t log_level = DIFFLM_LOG_WARN;
    std::function<void(int32_t, std::string_view)> log;
};

// Reads n bytes at offset of a model image into dst (difflm_read_fn): called only while
// model::from_reader runs, in increasing offsets. Throw to fail the load.
using reader = std::function<void(std::uint64_t offset, void *dst, std::size_t n)>;

// A loaded model (difflm_model): mapped weights, hyperparameters, tokenizer and chat format,
// read-only once loaded. Copies share the one load (shared_ptr semantics); every context
// created from it holds it too, so the C model is freed with the last copy or context.
class model {
  public:
    model() noexcept = default;  // empty: operator bool is false
    // A GGUF file or a Hugging Face folder (weights mapped, not read).
    explicit model(const std::string &path, const model_params &p = {}) {
        if (auto ec = load_path(path, p)) throw_status(ec.value(), s_ ? s_->load_error : "");
    }
    // Non-throwing: on failure the model is empty and message (if given) holds the text.
    model(const std::string &path, const model_params &p, std::error_code &ec,
          std::string *message = nullptr) {
        ec = load_path(path, p);
        if (ec && message) *message = s_ ? s_->load_error : "";
        if (ec) s_.reset();
    }

    // A GGUF image of size bytes in memory, read in place (nothing copied). Ownership: the
    // bytes stay the caller's and must stay alive and unchanged until this model, its
    // copies and every context created from it are destroyed; pass owner (a shared_ptr to
    // whatever holds them) and the model keeps it alive for exactly that long. data must
    // be 32-byte aligned (else the library's DIFFLM_E_INVALID_ARG).
    static model from_memory(const void *data, std::size_t size, const model_params &p = {},
                             std::shared_ptr<const void> owner = {}) {
        std::error_code ec;
        std::string message;
        model m = from_memory(data, size, p, ec, &message, std::move(owner));
        if (ec) throw_status(ec.value(), message);
        return m;
    }
    static model from_memory(const void *data, std::size_t size, const model_params &p,
                             std::error_code &ec, std::string *message = nullptr,
                             std::shared_ptr<const void> owner = {}) {
        model m;
        m.s_ = std::make_shared<state>(p.log);
        m.s_->owner = std::move(owner);
        difflm_model_params mp = m.s_->params(p);
        mp.data = data;
        mp.size = size;
        ec = m.s_->load(mp, message);
        if (ec) m.s_.reset();
        return m;
    }

    // A GGUF image of size bytes from read (an asset in a pack, a decompressor): read once,
    // during this call, into one block the library allocates. An exception read throws
    // fails the load with DIFFLM_E_IO, its what() appended to the library's message.
    static model from_reader(reader read, std::uint64_t size, const model_params &p = {}) {
        std::error_code ec;
        std::string message;
        model m = from_reader(std::move(read), size, p, ec, &message);
        if (ec) throw_status(ec.value(), message);
        return m;
    }
    static model from_reader(reader read, std::uint64_t size, const model_params &p,
                             std::error_code &ec, std::string *message = nullptr) {
        model m;
        if (static_cast<std::uint64_t>(static_cast<std::size_t>(size)) != size) {
            ec = make_error_code(DIFFLM_E_NOMEM);
            if (message) *message = "the image does not fit in memory";
            return m;
        }
        m.s_ = std::make_shared<state>(p.log);
        struct source {
            reader fn;
            std::string failure;
            static int call(void *user, std::uint64_t offset, void *dst, std::size_t n) {
                auto *src = static_cast<source *>(user);
                try {
                    src->fn(offset, dst, n);
                    return 0;
                } catch (const std::exception &e) {
                    src->failure = e.what();
                } catch (...) {
                    src->failure = "the reader threw";
                }
                return 1;
            }
        } src{std::move(read), {}};
        difflm_model_params mp = m.s_->params(p);
        mp.read_fn = &source::call;
        mp.read_user = &src;
        mp.size = static_cast<std::size_t>(size);
        ec = m.s_->load(mp, message);
        if (ec && message && !src.failure.empty()) *message += ": " + src.failure;
        if (ec) m.s_.reset();
        return m;
    }

    explicit operator bool() const noexcept { return s_ != nullptr; }
    difflm_model *get() const noexcept { return s_ ? s_->raw : nullptr; }

    // difflm_model_describe (max_canvas is 0: that is a context's).
    difflm_model_info info() const {
        difflm_model_info m{};
        m.struct_size = sizeof m;
        int st = difflm_model_describe(get(), &m);
        if (st < 0) throw_status(st, "difflm_model_describe: no model");
        return m;
    }

    // Bytes of heap a context with p allocates up front (difflm_ctx_memory_required).
    std::size_t memory_required(const context_params &p) const {
        difflm_ctx_params cp = raw_ctx_params(p);
        std::size_t n = 0;
        int st = difflm_ctx_memory_required(get(), &cp, &n);
        if (st < 0)
            throw_status(st, "difflm_ctx_memory_required: no model, or n_threads, max_canvas or "
                             "max_batch below 0");
        return n;
    }

    // difflm_ctx_params from the context_params fields a context on a model uses.
    static difflm_ctx_params raw_ctx_params(const context_params &p) noexcept {
        difflm_ctx_params cp;
        difflm_ctx_params_init(&cp);
        cp.n_threads = p.n_threads;
        cp.max_canvas = p.max_canvas;
        cp.max_batch = p.max_batch;
        cp.precision = p.precision;
        cp.pack_weights = p.pack_weights;
        cp.log_level = p.log_level;
        return cp;
    }

  private:
    // What the C model needs for as long as it lives: its log function and the owner of
    // an in-place image. The C reference is dropped with the last shared_ptr.
    struct state {
        difflm_model *raw = nullptr;
        std::function<void(int32_t, std::string_view)> log;
        std::string load_error;
        std::shared_ptr<const void> owner;

        explicit state(std::function<void(int32_t, std::string_view)> fn) : log(std::move(fn)) {}
        state(const state &) = delete;
        state &operator=(const state &) = delete;
        ~state() { difflm_model_free(raw); }

        static void on_log(int32_t level, const char *msg, void *user) {
            auto *s = static_cast<state *>(user);
            try {
                if (level == DIFFLM_LOG_ERROR) s->load_error = msg ? msg : "";
                if (s->log) s->log(level, msg ? msg : "");
            } catch (...) {  // cannot cross the C frame
            }
        }
        difflm_model_params params(const model_params &p) {
            difflm_model_params mp;
            difflm_model_params_init(&mp);
            mp.mask_token_id = p.mask_token_id;
            mp.log_level = p.log_level;
            mp.log_fn = &on_log;
            mp.log_user = this;
            return mp;
        }
        std::error_code load(const difflm_model_params &mp, std::string *message) {
            int st = DIFFLM_OK;
            raw = difflm_model_load(&mp, &st);
            if (raw) return {};
            if (message) *message = load_error.empty() ? difflm_status_str(st) : load_error;
            return make_error_code(st);
        }
    };

    std::error_code load_path(const std::string &path, const model_params &p) {
        s_ = std::make_shared<state>(p.log);
        difflm_model_params mp = s_->params(p);
        mp.path = path.c_str();
        return s_->load(mp, nullptr);
    }

    std::shared_ptr<state> s_;
};

// ---------------------------------------------------------------- context

class context {
  public:
    context() noexcept = default;  // empty: operator bool is false
    explicit context(const std::string &model_path) {
        context_params p;
        p.model_path = model_path;
        open(p);
    }
    explicit context(const context_params &p) { open(p); }
    // Non-throwing construction; on failure the context is empty and message (if given)
    // holds the library's text.
    context(const context_params &p, std::error_code &ec, std::string *message = nullptr) {
        ec = create(p);
        if (ec && message) *message = state_->create_error;
    }
    // One more context on a loaded model (difflm_ctx_create): it shares the model's weights
    // and tokenizer and keeps the model alive. p.model_path must be empty and
    // p.mask_token_id -1 (DIFFLM_E_INVALID_ARG otherwise): those are the model's.
    explicit context(const model &m, const context_params &p = {}) {
        if (auto ec = create(m, p)) throw_status(ec.value(), state_->create_error);
    }
    context(const model &m, const context_params &p, std::error_code &ec,
            std::string *message = nullptr) {
        ec = create(m, p);
        if (ec && message) *message = state_->create_error;
    }

    context(const context &) = delete;
    context &operator=(const context &) = delete;
    context(context &&o) noexcept
        : ctx_(std::exchange(o.ctx_, nullptr)), state_(std::move(o.state_)),
          model_(std::move(o.model_)) {}
    context &operator=(context &&o) noexcept {
        if (this != &o) {
            reset();
            ctx_ = std::exchange(o.ctx_, nullptr);
            state_ = std::move(o.state_);
            model_ = std::move(o.model_);
        }
        return *this;
    }
    ~context() { reset(); }

    explicit operator bool() const noexcept { return ctx_ != nullptr; }
    difflm_ctx *get() const noexcept { return ctx_; }
    std::string last_error() const { return ctx_ ? difflm_last_error(ctx_) : ""; }
    // The model given at construction (empty for a context created from a path).
    const difflm::model &shared_model() const noexcept { return model_; }

    difflm_model_info info() const {
        difflm_model_info m{};
        m.struct_size = sizeof m;
        check(difflm_model_info_get(ctx_, &m));
        return m;
    }

    // -------------------------------------------------------- tokens

    std::vector<token> tokenize(std::string_view text, uint32_t flags = 0) {
        std::error_code ec;
        auto out = tokenize(text, flags, ec);
        rethrow(ec);
        return out;
    }
    std::vector<token> tokenize(std::string_view text, uint32_t flags, std::error_code &ec) {
        std::vector<token> out(text.size() + 2);
        grow(out, ec, [&](std::size_t &n) {
            return difflm_tokenize(ctx_, text.data(), text.size(), flags, out.data(), out.size(), &n);
        });
        return out;
    }

    // Ids to bytes; control tokens are skipped unless flags has DIFFLM_DETOKENIZE_SPECIAL.
    std::string detokenize(const std::vector<token> &ids, uint32_t flags = 0) {
        std::error_code ec;
        auto out = detokenize(ids, flags, ec);
        rethrow(ec);
        return out;
    }
    std::string detokenize(const std::vector<token> &ids, uint32_t flags, std::error_code &ec) {
        std::string out(ids.size() * 8 + 16, '\0');
        grow(out, ec, [&](std::size_t &n) {
            return difflm_detokenize(ctx_, ids.data(), ids.size(), flags, out.data(), out.size(), &n);
        });
        return out;
    }

    // Ids for a prompt, tokenized as generate() does (BOS as the model says, specials parsed).
    std::vector<token> prompt_ids(std::string_view text) {
        uint32_t flags = DIFFLM_TOKENIZE_PARSE_SPECIAL;
        if (info().add_bos) flags |= DIFFLM_TOKENIZE_ADD_BOS;
        return tokenize(text, flags);
    }

    // -------------------------------------------------------- generation

    // Text in, generated text out (difflm_sample). on_step, if set, runs after every step;
    // returning true stops generation (throws cancelled); an exception it throws is
    // rethrown here.
    std::string generate(const std::string &prompt, const gen_params &g,
                         std::function<bool(const difflm::step &)> on_step = {}) {
        std::error_code ec;
        auto out = generate(prompt, g, ec, std::move(on_step));
        rethrow(ec);
        return out;
    }
    std::string generate(const std::string &prompt, const gen_params &g, std::error_code &ec,
                         std::function<bool(const difflm::step &)> on_step = {}) {
        hook h{std::move(on_step), nullptr};
        difflm_gen_params gp = g;
        if (h.fn) {
            gp.step_fn = &hook::call;
            gp.step_user = &h;
        }
        std::string out(static_cast<std::size_t>(g.gen_length > 0 ? g.gen_length : 0) * 32 + 64, '\0');
        std::size_t n = 0;
        int st = difflm_sample(ctx_, prompt.c_str(), &gp, out.data(), out.size(), &n);
        if (h.failure) std::rethrow_exception(h.failure);
        if (st == DIFFLM_E_BUFFER_TOO_SMALL) {  // rare: rebuild from the finished canvas
            out.assign(n + 1, '\0');
            st = generated_text(g, out, n);
        }
        ec = st < 0 ? make_error_code(st) : std::error_code();
        out.resize(st < 0 ? 0 : n);
        return out;
    }

    // Step by step: begin, then step() until it returns false.
    void begin(const std::vector<token> &prompt, const gen_params &g) {
        check(difflm_generate_begin(ctx_, prompt.data(), prompt.size(), &g));
    }
    // true: more steps to go; false: the canvas is complete. Throws (cancelled, ...) on error.
    bool step() { return check(difflm_generate_step(ctx_)) == DIFFLM_OK; }
    // The raw status (OK, DONE or an error); never throws.
    int step(std::error_code &ec) noexcept {
        int st = difflm_generate_step(ctx_);
        ec = st < 0 ? make_error_code(st) : std::error_code();
        return st;
    }

    // -------------------------------------------------------- infilling

    // A template's canvas (difflm_infill_canvas): "<mask:N>" becomes N MASK ids, the text
    // around the markers is tokenized piece by piece with flags (DIFFLM_TOKENIZE_*).
    std::vector<token> infill_canvas(const std::string &tmpl, uint32_t flags) {
        std::size_t n = 0;
        int st = difflm_infill_canvas(ctx_, tmpl.c_str(), flags, nullptr, 0, &n);
        if (st != DIFFLM_E_BUFFER_TOO_SMALL) check(st);
        std::vector<token> out(n);
        check(difflm_infill_canvas(ctx_, tmpl.c_str(), flags, out.data(), out.size(), &n));
        out.resize(n);
        return out;
    }
    // BOS as the model says, special tokens parsed.
    std::vector<token> infill_canvas(const std::string &tmpl) {
        uint32_t flags = DIFFLM_TOKENIZE_PARSE_SPECIAL;
        if (info().add_bos) flags |= DIFFLM_TOKENIZE_ADD_BOS;
        return infill_canvas(tmpl, flags);
    }
    // Begins over a canvas with MASK ids anywhere (difflm_generate_begin_canvas); then
    // step() as after begin(). g.gen_length is not used.
    void begin_canvas(const std::vector<token> &canvas, const gen_params &g) {
        check(difflm_generate_begin_canvas(ctx_, canvas.data(), canvas.size(), &g));
    }

    // What each canvas position had when it committed, or what the last step predicts
    // for it (difflm_confidences).
    std::vector<confidence> confidences() const {
        std::size_t n = 0;
        int st = difflm_confidences(ctx_, nullptr, nullptr, nullptr, nullptr, 0, &n);
        if (st != DIFFLM_E_BUFFER_TOO_SMALL && st < 0) throw_status(st, difflm_status_str(st));
        std::vector<token> id(n);
        std::vector<int32_t> step(n);
        std::vector<float> prob(n), score(n);
        st = difflm_confidences(ctx_, id.data(), step.data(), prob.data(), score.data(), n, &n);
        if (st < 0) throw_status(st, difflm_status_str(st));
        std::vector<confidence> out(n);
        for (std::size_t i = 0; i < n; i++) out[i] = confidence{id[i], step[i], prob[i], score[i]};
        return out;
    }

    std::vector<token> canvas() const {
        std::vector<token> out(static_cast<std::size_t>(info().max_canvas));
        std::size_t n = 0;
        int st = difflm_canvas(ctx_, out.data(), out.size(), &n);
        if (st < 0) throw_status(st, difflm_status_str(st));
        out.resize(n);
        return out;
    }

    // -------------------------------------------------------- batches

    // Several prompts advanced together, one forward pass per step over every canvas
    // still denoising (difflm_batch_*). seeds empty: every canvas runs g.seed; else one
    // per prompt. Each canvas is bitwise what begin/step give its prompt alone. No step
    // callback here (g.step_fn is passed on as set), no CFG, no KV cache.
    void batch_begin(const std::vector<std::vector<token>> &prompts, const gen_params &g,
                     const std::vector<uint64_t> &seeds = {}) {
        if (!seeds.empty() && seeds.size() != prompts.size())
            throw_status(DIFFLM_E_INVALID_ARG, "batch_begin: one seed per prompt");
        std::vector<const token *> ps;
        std::vector<std::size_t> ns;
        for (const auto &p : prompts) {
            ps.push_back(p.data());
            ns.push_back(p.size());
        }
        check(difflm_batch_begin(ctx_, ps.data(), ns.data(), prompts.size(),
                                 seeds.empty() ? nullptr : seeds.data(), &g));
    }
    // true: some canvas has steps to go; false: every canvas is complete.
    bool batch_step() { return check(difflm_batch_step(ctx_)) == DIFFLM_OK; }
    // Canvas i of the batch (prompt + generated, MASK where still masked).
    std::vector<token> batch_canvas(std::size_t i) const {
        std::vector<token> out(static_cast<std::size_t>(info().max_canvas));
        std::size_t n = 0;
        int st = difflm_batch_canvas(ctx_, i, out.data(), out.size(), &n);
        if (st < 0) throw_status(st, difflm_status_str(st));
        out.resize(n);
        return out;
    }
    // begin, step to the end, and every canvas.
    std::vector<std::vector<token>> generate_batch(const std::vector<std::vector<token>> &prompts,
                                                   const gen_params &g,
                                                   const std::vector<uint64_t> &seeds = {}) {
        batch_begin(prompts, g, seeds);
        while (batch_step()) {
        }
        std::vector<std::vector<token>> out;
        for (std::size_t i = 0; i < prompts.size(); i++) out.push_back(batch_canvas(i));
        return out;
    }

    // Safe from any thread while the context exists.
    void cancel() const noexcept { difflm_cancel(ctx_); }

    // -------------------------------------------------------- logits

    // One forward pass's raw logits (difflm_logits): every row of ids, row-major
    // [ids.size()][info().n_vocab], unshifted (with info().shift_logits, canvas position
    // p >= 1 is predicted by row p - 1). A generation in progress is not disturbed.
    std::vector<float> logits(const std::vector<token> &ids) {
        std::error_code ec;
        auto out = logits(ids, ec);
        rethrow(ec);
        return out;
    }
    std::vector<float> logits(const std::vector<token> &ids, std::error_code &ec) {
        return logits_of(ids, nullptr, 0, ec);
    }
    // The chosen rows only (any order, repeats allowed): [rows.size()][n_vocab], each row
    // bitwise what the full pass gives for it.
    std::vector<float> logits(const std::vector<token> &ids, const std::vector<int32_t> &rows) {
        std::error_code ec;
        auto out = logits(ids, rows, ec);
        rethrow(ec);
        return out;
    }
    std::vector<float> logits(const std::vector<token> &ids, const std::vector<int32_t> &rows,
                              std::error_code &ec) {
        static const int32_t no_row = 0;  // non-NULL: no rows is not "all rows" here
        return logits_of(ids, rows.empty() ? &no_row : rows.data(), rows.size(), ec);
    }

    // -------------------------------------------------------- scoring

    // LLaDA's Monte Carlo estimate of -log p(ids | prompt) in nats (difflm_score: the
    // negative ELBO, an upper bound in expectation): mc forward passes in mc / batch
    // stratified iterations, the prompt never masked. Deterministic for a seed, whatever
    // the thread count. score_params() holds the defaults (mc 128, batch 16, seed 0).
    static difflm_score_params score_params() noexcept {
        difflm_score_params p;
        difflm_score_params_init(&p);
        return p;
    }
    difflm_score_result score(const std::vector<token> &ids, const std::vector<token> &prompt,
                              const difflm_score_params &p = score_params()) {
        std::error_code ec;
        auto r = score(ids, prompt, p, ec);
        rethrow(ec);
        return r;
    }
    difflm_score_result score(const std::vector<token> &ids, const std::vector<token> &prompt,
                              const difflm_score_params &p, std::error_code &ec) noexcept {
        difflm_score_result r{};
        r.struct_size = sizeof r;
        int st = difflm_score(ctx_, prompt.data(), prompt.size(), ids.data(), ids.size(), &p, &r);
        ec = st < 0 ? make_error_code(st) : std::error_code();
        return r;
    }

  private:
    // Heap state whose address the library keeps (log_user) across moves of the context.
    struct state {
        std::function<void(int32_t, std::string_view)> log;
        std::string create_error;
        static void on_log(int32_t level, const char *msg, void *user) {
            auto *s = static_cast<state *>(user);
            try {
                if (level == DIFFLM_LOG_ERROR) s->create_error = msg ? msg : "";
                if (s->log) s->log(level, msg ? msg : "");
            } catch (...) {  // cannot cross the C frame
            }
        }
    };

    struct hook {
        std::function<bool(const difflm::step &)> fn;
        std::exception_ptr failure;
        static int call(const difflm_step_info *info, void *user) {
            auto *h = static_cast<hook *>(user);
            try {
                difflm::step s;
                s.index = info->step;
                s.total_steps = info->total_steps;
                s.n_committed = info->n_committed;
                s.n_masked = info->n_masked;
                s.prompt_length = static_cast<std::size_t>(info->prompt_length);
                s.canvas.assign(info->canvas, info->canvas + info->canvas_length);
                return h->fn(s) ? 1 : 0;
            } catch (...) {
                h->failure = std::current_exception();
                return 1;
            }
        }
    };

    void open(const context_params &p) {
        if (auto ec = create(p)) throw_status(ec.value(), state_->create_error);
    }

    std::error_code create(const context_params &p) {
        state_ = std::make_unique<state>();
        state_->log = p.log;
        difflm_params cp;
        difflm_params_init(&cp);
        cp.model_path = p.model_path.c_str();
        cp.n_threads = p.n_threads;
        cp.max_canvas = p.max_canvas;
        cp.mask_token_id = p.mask_token_id;
        cp.max_batch = p.max_batch;
        cp.precision = p.precision;
        cp.pack_weights = p.pack_weights;
        cp.log_level = p.log_level;
        cp.log_fn = &state::on_log;
        cp.log_user = state_.get();
        int st = DIFFLM_OK;
        ctx_ = difflm_create(&cp, &st);
        return ctx_ ? std::error_code() : make_error_code(st);
    }

    std::error_code create(const model &m, const context_params &p) {
        state_ = std::make_unique<state>();
        state_->log = p.log;
        if (!m || !p.model_path.empty() || p.mask_token_id != -1) {
            state_->create_error = !m ? "the model is empty"
                                      : "a context on a model takes no model_path or "
                                        "mask_token_id (they are the model's)";
            return make_error_code(DIFFLM_E_INVALID_ARG);
        }
        difflm_ctx_params cp = model::raw_ctx_params(p);
        cp.log_fn = &state::on_log;
        cp.log_user = state_.get();
        int st = DIFFLM_OK;
        ctx_ = difflm_ctx_create(m.get(), &cp, &st);
        if (!ctx_) return make_error_code(st);
        model_ = m;
        return {};
    }

    void reset() noexcept {
        difflm_free(ctx_);
        ctx_ = nullptr;
        state_.reset();
        model_ = model();  // after the free: the C model may log or read its image till then
    }

    int check(int st) const {
        if (st < 0) throw_status(st, last_error());
        return st;
    }

    void rethrow(const std::error_code &ec) const {
        if (ec) throw_status(ec.value(), last_error());
    }

    // Calls fill(n) with `out` as the buffer; grows it once to the needed size.
    template <class Buf, class Fill>
    void grow(Buf &out, std::error_code &ec, Fill fill) {
        std::size_t n = 0;
        int st = fill(n);
        if (st == DIFFLM_E_BUFFER_TOO_SMALL && n > out.size()) {
            out.resize(n);
            st = fill(n);
        }
        ec = st < 0 ? make_error_code(st) : std::error_code();
        out.resize(st < 0 ? 0 : n);
    }

    // difflm_logits into a vector sized by its own size query (rows NULL: every row).
    std::vector<float> logits_of(const std::vector<token> &ids, const int32_t *rows,
                                 std::size_t n_rows, std::error_code &ec) {
        std::vector<float> out;
        grow(out, ec, [&](std::size_t &n) {
            return difflm_logits(ctx_, ids.data(), ids.size(), rows, n_rows, out.data(), out.size(),
                                 &n);
        });
        return out;
    }

    // The finished canvas's generated text, cut before EOS / end-of-turn as
    // difflm_sample does, into out (n = its length).
    int generated_text(const gen_params &g, std::string &out, std::size_t &n) noexcept try {
        difflm_model_info m{};
        m.struct_size = sizeof m;
        int st = difflm_model_info_get(ctx_, &m);
        std::vector<token> c(static_cast<std::size_t>(m.max_canvas));
        std::size_t len = 0;
        if (st == DIFFLM_OK) st = difflm_canvas(ctx_, c.data(), c.size(), &len);
        if (st != DIFFLM_OK) return st;
        c.resize(len);
        std::size_t start = c.size() - static_cast<std::size_t>(g.gen_length);
        std::size_t end = start;
        while (end < c.size() && !(c[end] >= 0 && (c[end] == m.eos_id || c[end] == m.eot_id))) end++;
        std::vector<token> gen(c.begin() + static_cast<std::ptrdiff_t>(start),
                               c.begin() + static_cast<std::ptrdiff_t>(end));
        return difflm_detokenize(ctx_, gen.data(), gen.size(), 0, out.data(), out.size(), &n);
    } catch (const std::bad_alloc &) {
        return DIFFLM_E_NOMEM;
    }

    difflm_ctx *ctx_ = nullptr;
    std::unique_ptr<state> state_;
    model model_;  // the shared model's state, kept as long as the C context
};

}  // namespace difflm

#endif  // DIFFLM_HPP
