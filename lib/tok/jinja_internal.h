/* jinja_internal.h - what the jinja_*.c files share: the arena, tokens, the AST and
 * runtime values. */
#ifndef DL_JINJA_INTERNAL_H
#define DL_JINJA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tok/jinja.h"

/* ---- arena: the AST and everything it points to, freed at once with the template */
typedef struct jarena_chunk {
    struct jarena_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} jarena_chunk;

typedef struct jarena {
    jarena_chunk *head;
} jarena;

void *ja_alloc(jarena *a, size_t n);   /* 16-byte aligned, zeroed; NULL when out of memory */
void ja_free(jarena *a);

/* ---- strings: refcounted, immutable, NUL-terminated. rc < 0: immortal (AST constants) */
typedef struct jstr {
    int32_t rc;
    uint32_t n;
    char p[];
} jstr;

/* Python's str.isspace(), on a code point. */
int dl_jinja_is_space(uint32_t cp);
/* Decodes one character at s[0..n) (a stray invalid byte counts as one character of its
 * own, cp = 0xFFFFFFFF); returns its length. */
size_t dl_jinja_utf8_char(const char *s, size_t n, uint32_t *cp);

/* ---- lexer */
enum jtk { JT_EOF, JT_TEXT, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END,
           JT_NAME, JT_STRING, JT_INT, JT_OP };

enum jop { JOP_NONE, JOP_ADD, JOP_SUB, JOP_DIV, JOP_FLOORDIV, JOP_MUL, JOP_POW, JOP_MOD,
           JOP_TILDE, JOP_LBRACK, JOP_RBRACK, JOP_LPAREN, JOP_RPAREN, JOP_LBRACE, JOP_RBRACE,
           JOP_EQ, JOP_NE, JOP_LT, JOP_LE, JOP_GT, JOP_GE, JOP_ASSIGN, JOP_DOT, JOP_COLON,
           JOP_PIPE, JOP_COMMA, JOP_SEMI,
           /* word operators, made by the parser */
           JOP_AND, JOP_OR, JOP_NOT, JOP_IN, JOP_NOTIN, JOP_NEG, JOP_POS };

typedef struct jtoken {
    uint8_t kind;      /* enum jtk */
    uint8_t op;        /* enum jop for JT_OP */
    int line;
    const char *p;     /* NAME, TEXT, STRING: bytes in the arena */
    size_t n;
    int64_t ival;      /* INT */
} jtoken;

typedef struct jtokens {
    jtoken *t;
    size_t n, cap;
} jtokens;

/* Tokenizes the template (newlines normalized, whitespace control applied, comments
 * dropped). Texts and strings are copied into the arena. */
int dl_jinja_lex(jtokens *out, jarena *a, const char *src, size_t n, dl_err *err);

/* ---- AST */
enum jnk {
    /* expressions */
    JN_CONST, JN_NAME, JN_ATTR, JN_ITEM, JN_SLICE, JN_CALL, JN_METHOD, JN_FILTER, JN_TEST,
    JN_UNARY, JN_BINARY, JN_COND, JN_LIST, JN_DICT,
    /* statements */
    JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SETATTR, JN_BREAK, JN_CONTINUE, JN_BODY,
};

enum jvt { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_STR, JV_LIST, JV_DICT, JV_LOOP };

typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jloop jloop;

typedef struct jval {
    uint8_t t;         /* enum jvt */
    union {
        int64_t i;     /* INT, BOOL */
        jstr *s;
        jlist *l;
        jdict *d;
        jloop *loop;
    } u;
} jval;

struct jlist {
    int32_t rc;
    uint32_t n, cap;
    jval *v;
};

struct jdict {
    int32_t rc;
    uint8_t is_ns;     /* a namespace(): attributes may be assigned */
    uint32_t n, cap;
    jstr **k;
    jval *v;
};

struct jloop {
    int32_t rc;
    int64_t index0, length;
};

typedef struct jnode jnode;
struct jnode {
    uint8_t kind;      /* enum jnk */
    uint8_t op;        /* UNARY/BINARY: enum jop; TEST: 1 = negated */
    uint16_t depth;    /* 1 + the deepest child */
    int line;
    jval cval;         /* CONST */
    const char *name;  /* NAME, ATTR, METHOD, FILTER, TEST, CALL, FOR target, SET target */
    size_t name_n;
    const char *attr;  /* SETATTR: the attribute */
    size_t attr_n;
    jnode *a, *b, *c, *d; /* operands; IF: cond, then, else; FOR: iter, body, else;
                             SLICE: obj, start, stop, step; COND: cond, then, else */
    jnode **args;      /* CALL/METHOD/FILTER args, LIST items, DICT keys, BODY statements */
    size_t n_args;
    jnode **kw_vals;   /* keyword arguments (names in kw_names), DICT values */
    const char **kw_names;
    size_t *kw_n;
    size_t n_kw;
    int builtin;       /* FILTER/TEST/METHOD/CALL: which one (jinja_builtin.c) */
};

struct dl_jinja {
    jarena arena;
    jnode *root;       /* JN_BODY */
};

/* Parses tokens into an AST in the arena. */
int dl_jinja_parse(jnode **root, jarena *a, const jtokens *tk, dl_err *err);

/* ---- builtins (jinja_builtin.c): name -> id at compile time, -1 when unknown */
int dl_jinja_filter_id(const char *name, size_t n);
int dl_jinja_test_id(const char *name, size_t n);
int dl_jinja_method_id(const char *name, size_t n);
int dl_jinja_func_id(const char *name, size_t n);
/* 1 when the name is a Jinja/HF global that this subset does not provide */
int dl_jinja_global_unsupported(const char *name, size_t n);

#endif
