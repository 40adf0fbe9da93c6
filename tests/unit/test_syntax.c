/* Unit tests for lv_syntax: markdown → XHTML, XHTML sanitising and parsing,
 * XHTML → text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blog/lv_syntax.h"
#include "core/lv_mem.h"

#define DIV "<div xmlns='http://www.w3.org/1999/xhtml'>"

/* ---- helpers ---- */

static void expect_str(const char *row, const char *what, const char *got, const char *want)
{
    if (!got || strcmp(got, want) != 0)
        fail_msg("[%s] %s:\n got  \"%s\"\n want \"%s\"", row, what, got ? got : "(null)", want);
}

static char *serialize(const struct lv_xml *x)
{
    return lv_xml_to_string(x, NULL);
}

/* Parses XML without sanitising (for trees as a peer could send them). */
static struct lv_xml *raw_parse(const char *s)
{
    static const struct lv_xml_limits lim = {1 << 20, 64, 64, 100000};
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    if (lv_xml_parse(s, strlen(s), &lim, &x, &err) != 0)
        fail_msg("test input does not parse: %s: %s", s, err.msg);
    return x;
}

static unsigned depth_of(const struct lv_xml *x)
{
    unsigned max = 0;
    for (const struct lv_xml *c = x->children; c; c = c->next) {
        unsigned d = c->kind == LV_XML_ELEM ? depth_of(c) + 1 : 0;
        if (d > max)
            max = d;
    }
    return max;
}

/* ---- markdown ---- */

struct md_case {
    const char *md;
    const char *xhtml; /* serialized, DIV prefix omitted */
};

static const struct md_case md_cases[] = {
    {"", NULL},
    {"Hello *world*", "<p>Hello <em>world</em></p></div>"},
    {"**bold** and `code <x>`",
     "<p><strong>bold</strong> and <code>code &lt;x&gt;</code></p></div>"},
    {"# Title\n\ntext", "<h1>Title</h1><p>text</p></div>"},
    {"### h3", "<h3>h3</h3></div>"},
    {"[Libervia](https://libervia.org \"site\")",
     "<p><a href='https://libervia.org' title='site'>Libervia</a></p></div>"},
    /* the reference's nl2br: a single newline is a line break */
    {"line one\nline two", "<p>line one<br/>\nline two</p></div>"},
    {"hard  \nbreak", "<p>hard<br/>\nbreak</p></div>"},
    {"- a\n- b\n  - c", "<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul></div>"},
    {"- loose\n\n- list", "<ul><li><p>loose</p></li><li><p>list</p></li></ul></div>"},
    {"1. one\n2. two", "<ol><li>one</li><li>two</li></ol></div>"},
    {"7. seven", "<ol start='7'><li>seven</li></ol></div>"},
    {"```c\nint x = 1 < 2;\n```", "<pre><code>int x = 1 &lt; 2;\n</code></pre></div>"},
    {"    indented", "<pre><code>indented\n</code></pre></div>"},
    {"> quoted", "<blockquote><p>quoted</p></blockquote></div>"},
    {"a\n\n---\n\nb", "<p>a</p><hr/><p>b</p></div>"},
    {"![a *cat*](http://x.org/c.png \"T\")",
     "<p><img src='http://x.org/c.png' alt='a cat' title='T'/></p></div>"},
    /* raw HTML is dropped, inline and block */
    {"<script>alert(1)</script>", NULL},
    {"x <b onclick='y'>bold</b> z", "<p>x bold z</p></div>"},
    {"<div>\nblock\n</div>\n\nafter", "<p>after</p></div>"},
    /* unsafe URLs lose their attribute, the text stays */
    {"[click](javascript:alert(1))", "<p><a>click</a></p></div>"},
    {"![x](data:image/png;base64,AAAA)", "<p><img alt='x'/></p></div>"},
    {"[rel](/a/b?c#d) [mail](mailto:a@b.c) [x](xmpp:a@b.c)",
     "<p><a href='/a/b?c#d'>rel</a> <a href='mailto:a@b.c'>mail</a> <a "
     "href='xmpp:a@b.c'>x</a></p></div>"},
    /* entities become characters, as XML needs no named entities */
    {"&eacute;t&eacute; &amp; &copy;", "<p>été &amp; ©</p></div>"},
    /* invalid UTF-8 is replaced, not passed to XML */
    {"bad \xff byte", "<p>bad \xef\xbf\xbd byte</p></div>"},
    {"| a | b |\n|---|---|\n| 1 | 2 |", "<p>| a | b |<br/>\n|---|---|<br/>\n| 1 | 2 |</p></div>"},
};

static void test_markdown(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(md_cases); i++) {
        const struct md_case *c = &md_cases[i];
        struct lv_xml *x = lv_syntax_markdown_to_xhtml(c->md, strlen(c->md));
        char *got = serialize(x);
        char *want = c->xhtml ? lv_xasprintf(DIV "%s", c->xhtml)
                              : lv_xstrdup("<div xmlns='http://www.w3.org/1999/xhtml'/>");
        expect_str(c->md, "xhtml", got, want);
        free(want);
        free(got);
        lv_xml_unref(x);
    }
}

/* Nesting is capped while building: the text survives, the tree stays
 * within LV_SYNTAX_MAX_DEPTH. */
static void test_markdown_deep(void **state)
{
    (void)state;
    size_t n = 5000;
    char *md = lv_xmalloc(n + 16);
    memset(md, '>', n);
    strcpy(md + n, " deep *text*");
    struct lv_xml *x = lv_syntax_markdown_to_xhtml(md, strlen(md));
    assert_true(depth_of(x) <= LV_SYNTAX_MAX_DEPTH);
    char *text = lv_syntax_xhtml_to_text(x);
    expect_str("deep", "text", text, "deep text");
    free(text);
    lv_xml_unref(x);
    free(md);

    /* deep lists too, and the result re-parses as XHTML */
    struct lv_buf b = LV_BUF_INIT;
    for (int i = 0; i < 200; i++) {
        for (int j = 0; j < i; j++)
            lv_buf_adds(&b, "  ");
        lv_buf_adds(&b, "- item\n");
    }
    x = lv_syntax_markdown_to_xhtml(b.data, b.len);
    assert_true(depth_of(x) <= LV_SYNTAX_MAX_DEPTH);
    char *s = serialize(x);
    struct lv_xml *again = NULL;
    assert_int_equal(lv_syntax_parse_xhtml(s, strlen(s), &again, NULL), 0);
    lv_xml_unref(again);
    free(s);
    lv_xml_unref(x);
    lv_buf_release(&b);
}

/* ---- plain text ---- */

struct text_case {
    const char *text;
    const char *xhtml;
};

static const struct text_case text_cases[] = {
    {"", DIV "</div>"},
    {"one line", DIV "<p>one line</p></div>"},
    {"a\nb\r\nc", DIV "<p>a<br/>b<br/>c</p></div>"},
    {"p1\n\n \t\np2 <tag> & co", DIV "<p>p1</p><p>p2 &lt;tag&gt; &amp; co</p></div>"},
    {"\n\nlead\n\n\n", DIV "<p>lead</p></div>"},
};

static void test_text_to_xhtml(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(text_cases); i++) {
        const struct text_case *c = &text_cases[i];
        struct lv_xml *x = lv_syntax_text_to_xhtml(c->text, strlen(c->text));
        char *got = serialize(x);
        /* an empty div serializes self-closed */
        const char *want = strcmp(c->xhtml, DIV "</div>") == 0
                               ? "<div xmlns='http://www.w3.org/1999/xhtml'/>"
                               : c->xhtml;
        expect_str(c->text, "xhtml", got, want);
        free(got);
        lv_xml_unref(x);
    }
}

/* ---- parsing and sanitising ---- */

struct clean_case {
    const char *name;
    const char *in;
    const char *out; /* serialized after lv_syntax_parse_xhtml */
};

static const struct clean_case clean_cases[] = {
    {"div kept", DIV "<p>hi</p></div>", DIV "<p>hi</p></div>"},
    {"no namespace means XHTML", "<p>hi <b>you</b></p>", DIV "<p>hi <b>you</b></p></div>"},
    {"several roots are wrapped", "<p>a</p><p>b</p>", DIV "<p>a</p><p>b</p></div>"},
    {"bare text", "just text &amp; more", DIV "just text &amp; more</div>"},
    {"whitespace around one root", "\n  <p>x</p>\n", DIV "<p>x</p></div>"},
    {"script with content", "<p>a<script>alert(1)</script>b</p>", DIV "<p>ab</p></div>"},
    {"style and iframe", "<style>p{}</style><iframe src='http://x'>f</iframe><p>t</p>",
     DIV "<p>t</p></div>"},
    {"forms", "<form><input value='x'/><button>b</button><textarea>t</textarea></form>ok",
     DIV "ok</div>"},
    {"event handlers, style, class, id",
     "<p onclick='x()' onmouseover='y' style='color:red' class='c' id='i' title='t' "
     "lang='fr'>p</p>",
     DIV "<p title='t' lang='fr'>p</p></div>"},
    {"javascript href", "<a href='javascript:alert(1)'>x</a>", DIV "<a>x</a></div>"},
    {"obfuscated scheme", "<a href=' JaVa&#9;ScRipt:alert(1)'>x</a>", DIV "<a>x</a></div>"},
    {"newline in scheme", "<a href='java&#10;script:alert(1)'>x</a>", DIV "<a>x</a></div>"},
    {"data and vbscript", "<img src='data:image/png;base64,AA' alt='a'/><a href='vbscript:x'>v</a>",
     DIV "<img alt='a'/><a>v</a></div>"},
    {"allowed URLs",
     "<a href='HTTPS://a.org/x'>1</a><a href='xmpp:a@b?message'>2</a><a href='mailto:a@b'>3</a>"
     "<a href='../rel/x:y'>4</a><a href='#frag'>5</a><a href='?q=a:b'>6</a>",
     DIV "<a href='HTTPS://a.org/x'>1</a><a href='xmpp:a@b?message'>2</a><a "
         "href='mailto:a@b'>3</a><a href='../rel/x:y'>4</a><a href='#frag'>5</a><a "
         "href='?q=a:b'>6</a></div>"},
    {"unknown scheme", "<a href='ftp://x/'>f</a><a href='a:b'>g</a>", DIV "<a>f</a><a>g</a></div>"},
    {"href only on a", "<p href='http://x'>p</p><img href='http://x' src='http://y/i.png'/>",
     DIV "<p>p</p><img src='http://y/i.png'/></div>"},
    {"img attributes",
     "<img src='/i.png' alt='A' title='T' width='100' height='50%' onerror='x' border='1'/>",
     DIV "<img src='/i.png' alt='A' title='T' width='100' height='50%'/></div>"},
    {"bad numbers", "<img src='/i' width='100px'/><td colspan='-1'>c</td>",
     DIV "<img src='/i'/><td>c</td></div>"},
    {"cite and spans",
     "<blockquote cite='javascript:x'>q</blockquote><q cite='http://s'>s</q>"
     "<table><tr><td colspan='2' rowspan='1'>c</td></tr></table>",
     DIV "<blockquote>q</blockquote><q cite='http://s'>s</q><table><tr><td colspan='2' "
         "rowspan='1'>c</td></tr></table></div>"},
    {"xml:lang kept", "<p xml:lang='de'>x</p>", DIV "<p xml:lang='de'>x</p></div>"},
    {"unknown elements unwrapped", "<p><blink><marquee>text</marquee></blink> <font>f</font></p>",
     DIV "<p>text f</p></div>"},
    {"unwrapped content is checked", "<center><script>x</script><b onclick='y'>b</b></center>",
     DIV "<b>b</b></div>"},
    {"html document",
     "<html><head><title>T</title><meta charset='x'/></head><body><p>b</p></body>"
     "</html>",
     DIV "<p>b</p></div>"},
    {"root kept element wrapped", "<p title='t'>x</p>", DIV "<p title='t'>x</p></div>"},
    {"root div attributes cleaned", DIV "x</div>", DIV "x</div>"},
    {"foreign namespace dropped",
     "<p>a<svg xmlns='http://www.w3.org/2000/svg'><script>x</script><text>t</text></svg>"
     "<m:math xmlns:m='http://www.w3.org/1998/Math/MathML'>m</m:math><x:b "
     "xmlns:x='urn:other'>o</x:b>b</p>",
     DIV "<p>ab</p></div>"},
    {"foreign root", "<x xmlns='urn:other'><p>hidden</p></x>",
     "<div xmlns='http://www.w3.org/1999/xhtml'/>"},
    {"namespaced attributes dropped",
     "<a xmlns:xl='http://www.w3.org/1999/xlink' xl:href='javascript:x' href='/ok'>a</a>",
     DIV "<a href='/ok'>a</a></div>"},
    {"all allowed elements",
     "<abbr>a</abbr><acronym>b</acronym><cite>c</cite><dfn>d</dfn><del>e</del><ins>f</ins>"
     "<kbd>g</kbd><s>h</s><samp>i</samp><small>j</small><span>k</span><strike>l</strike>"
     "<sub>m</sub><sup>n</sup><u>o</u><var>p</var><dl><dt>q</dt><dd>r</dd></dl><h6>s</h6>",
     DIV "<abbr>a</abbr><acronym>b</acronym><cite>c</cite><dfn>d</dfn><del>e</del><ins>f</ins>"
         "<kbd>g</kbd><s>h</s><samp>i</samp><small>j</small><span>k</span><strike>l</strike>"
         "<sub>m</sub><sup>n</sup><u>o</u><var>p</var><dl><dt>q</dt><dd>r</dd></dl><h6>s</h6>"
         "</div>"},
};

static void test_parse_sanitize(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(clean_cases); i++) {
        const struct clean_case *c = &clean_cases[i];
        struct lv_xml *x = NULL;
        struct lv_error err = {0};
        if (lv_syntax_parse_xhtml(c->in, strlen(c->in), &x, &err) != 0)
            fail_msg("[%s] parse failed: %s", c->name, err.msg);
        char *got = serialize(x);
        expect_str(c->name, "sanitised", got, c->out);
        /* sanitising is idempotent */
        lv_syntax_sanitize(x);
        char *again = serialize(x);
        expect_str(c->name, "sanitised twice", again, c->out);
        free(again);
        free(got);
        lv_xml_unref(x);
    }
}

/* A tree from the stanza parser (not through parse_xhtml) is sanitised in
 * place, its root turned into a div. */
static void test_sanitize_in_place(void **state)
{
    (void)state;
    struct lv_xml *x = raw_parse("<body xmlns='http://www.w3.org/1999/xhtml' onload='x'>"
                                 "<p>a</p><script>s</script></body>");
    lv_syntax_sanitize(x);
    char *s = serialize(x);
    expect_str("body root", "xhtml", s, DIV "<p>a</p></div>");
    free(s);
    lv_xml_unref(x);

    x = raw_parse("<script xmlns='http://www.w3.org/1999/xhtml' src='x'>evil()</script>");
    lv_syntax_sanitize(x);
    s = serialize(x);
    expect_str("script root", "xhtml", s, "<div xmlns='http://www.w3.org/1999/xhtml'/>");
    free(s);
    lv_xml_unref(x);
    lv_syntax_sanitize(NULL);
}

/* Thousands of nested unknown elements: unwrapped without recursion. */
static void test_sanitize_deep(void **state)
{
    (void)state;
    struct lv_xml *root = lv_xml_new("div", LV_NS_XHTML), *cur = root;
    for (int i = 0; i < 20000; i++)
        cur = lv_xml_new_child(cur, i % 2 ? "blink" : "span", NULL);
    lv_xml_add_text(cur, "core", 4);
    char *text = lv_syntax_xhtml_to_text(root);
    expect_str("deep", "text", text, "core");
    free(text);
    lv_syntax_sanitize(root);
    assert_true(depth_of(root) <= LV_SYNTAX_MAX_DEPTH);
    lv_xml_unref(root);

    /* many siblings to drop: linear, not quadratic */
    root = lv_xml_new("div", LV_NS_XHTML);
    for (int i = 0; i < 100000; i++)
        lv_xml_new_child(root, i % 3 ? "script" : "blink", NULL);
    lv_syntax_sanitize(root);
    assert_null(root->children);
    lv_xml_unref(root);
}

struct bad_case {
    const char *in;
    int rc;
    const char *msg_prefix;
};

static const struct bad_case bad_cases[] = {
    {"<p>a</b>", LV_ERR_INVAL, "1:"},
    {"<p>ok</p>\n<p>bad</i>", LV_ERR_INVAL, "2:"},
    {"<p>unclosed", LV_ERR_INVAL, NULL},
    {"<!-- comment --><p>x</p>", LV_ERR_INVAL, "1:"},
    {"<?pi x?><p>x</p>", LV_ERR_INVAL, NULL},
    {"<p>&nbsp;</p>", LV_ERR_INVAL, "1:"},
    {"<br>", LV_ERR_INVAL, NULL},
    {"</div><script>x</script><div>", LV_ERR_INVAL, "1:"},
};

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct lv_xml *x = (struct lv_xml *)&x; /* must be reset to NULL */
        struct lv_error err = {0};
        int rc = lv_syntax_parse_xhtml(c->in, strlen(c->in), &x, &err);
        if (rc != c->rc)
            fail_msg("[%s] rc %d, want %d", c->in, rc, c->rc);
        assert_null(x);
        if (c->msg_prefix && strncmp(err.msg, c->msg_prefix, strlen(c->msg_prefix)) != 0)
            fail_msg("[%s] message \"%s\" should start with \"%s\"", c->in, err.msg, c->msg_prefix);
    }
}

static char *nested_spans(const char *outer, int n)
{
    struct lv_buf b = LV_BUF_INIT;
    if (outer)
        lv_buf_adds(&b, outer);
    for (int i = 0; i < n; i++)
        lv_buf_adds(&b, "<span>");
    lv_buf_adds(&b, "x");
    for (int i = 0; i < n; i++)
        lv_buf_adds(&b, "</span>");
    if (outer)
        lv_buf_adds(&b, "</p>");
    return lv_buf_detach(&b);
}

static void test_parse_depth(void **state)
{
    (void)state;
    struct lv_xml *x = NULL;
    /* LV_SYNTAX_MAX_DEPTH below the root div: kept as is... */
    char *in = nested_spans(NULL, LV_SYNTAX_MAX_DEPTH);
    assert_int_equal(lv_syntax_parse_xhtml(in, strlen(in), &x, NULL), 0);
    assert_int_equal(depth_of(x), LV_SYNTAX_MAX_DEPTH);
    /* ...and its serialization, root div included, parses again */
    char *s = serialize(x);
    lv_xml_unref(x);
    assert_int_equal(lv_syntax_parse_xhtml(s, strlen(s), &x, NULL), 0);
    char *s2 = serialize(x);
    expect_str("reparse", "xhtml", s2, s);
    free(s2);
    free(s);
    lv_xml_unref(x);
    free(in);
    /* one level more (a <p> root, wrapped in a div): the deepest element is
     * unwrapped, its text kept */
    in = nested_spans("<p>", LV_SYNTAX_MAX_DEPTH);
    assert_int_equal(lv_syntax_parse_xhtml(in, strlen(in), &x, NULL), 0);
    assert_int_equal(depth_of(x), LV_SYNTAX_MAX_DEPTH);
    char *t = lv_syntax_xhtml_to_text(x);
    expect_str("flattened", "text", t, "x");
    free(t);
    lv_xml_unref(x);
    free(in);
    /* deeper than the parser allows */
    in = nested_spans("<p>", LV_SYNTAX_MAX_DEPTH + 1);
    struct lv_error err = {0};
    x = (struct lv_xml *)&x;
    assert_int_equal(lv_syntax_parse_xhtml(in, strlen(in), &x, &err), LV_ERR_LIMIT);
    assert_null(x);
    free(in);
}

/* A tree deeper than the limit is flattened by the sanitiser. */
static void test_sanitize_depth(void **state)
{
    (void)state;
    struct lv_xml *root = lv_xml_new("div", LV_NS_XHTML), *cur = root;
    for (int i = 0; i < 100; i++)
        cur = lv_xml_new_child(cur, i % 2 ? "b" : "i", NULL);
    lv_xml_add_text(cur, "deep", 4);
    lv_syntax_sanitize(root);
    assert_int_equal(depth_of(root), LV_SYNTAX_MAX_DEPTH);
    char *t = lv_syntax_xhtml_to_text(root);
    expect_str("flattened", "text", t, "deep");
    free(t);
    lv_xml_unref(root);
}

/* ---- XHTML to text ---- */

struct totext_case {
    const char *name;
    const char *xhtml; /* raw, inside an XHTML div */
    const char *text;
};

static const struct totext_case totext_cases[] = {
    {"empty", "", ""},
    {"inline whitespace collapses", "  Hello   <b>big</b>\n\t world  ", "Hello big world"},
    {"paragraphs", "<p>one</p><p>two\nlines</p>", "one\n\ntwo lines"},
    {"headings", "<h1>Title</h1>text", "Title\n\ntext"},
    {"br", "a<br/>b<br/><br/>c", "a\nb\n\nc"},
    {"br in paragraph", "<p>a<br/></p><p>b</p>", "a\n\nb"},
    {"divs", "<div>a</div><div>b</div>", "a\nb"},
    {"list", "<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
    {"ordered list", "<ol><li>one</li><li>two</li></ol>", "1. one\n2. two"},
    {"ordered start", "<ol start='9'><li>nine</li><li>ten</li></ol>", "9. nine\n10. ten"},
    {"nested list", "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", "- a\n  - b\n- c"},
    {"loose list", "<ul><li><p>a</p></li><li><p>b</p></li></ul>", "- a\n\n- b"},
    {"list after text", "<p>intro</p><ul><li>x</li></ul><p>end</p>", "intro\n\n- x\n\nend"},
    {"link differs", "see <a href='http://x.org/'>this</a>.", "see this (http://x.org/)."},
    {"link same", "<a href='http://x.org/'>http://x.org/</a>", "http://x.org/"},
    {"link without text", "<a href='http://x.org/'></a>", "http://x.org/"},
    {"link without href", "<a>plain</a>", "plain"},
    {"pre keeps spaces", "<p>code:</p><pre>  a  b\n    c</pre>", "code:\n\n  a  b\n    c"},
    {"image alt", "look <img src='/x.png' alt='a cat'/>", "look a cat"},
    {"table", "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>",
     "A | B\n1 | 2"},
    {"script and style skipped", "a<script>x()</script><style>p{}</style>b", "ab"},
    {"blockquote", "<blockquote><p>q</p></blockquote>after", "q\n\nafter"},
    {"entities and unicode", "caf\xc3\xa9 &amp; &lt;tag&gt;", "caf\xc3\xa9 & <tag>"},
    {"nbsp kept",
     "a\xc2\xa0\xc2\xa0"
     "b",
     "a\xc2\xa0\xc2\xa0"
     "b"},
};

static void test_xhtml_to_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(totext_cases); i++) {
        const struct totext_case *c = &totext_cases[i];
        char *doc = lv_xasprintf(DIV "%s</div>", c->xhtml);
        struct lv_xml *x = raw_parse(doc);
        char *text = lv_syntax_xhtml_to_text(x);
        expect_str(c->name, "text", text, c->text);
        free(text);
        lv_xml_unref(x);
        free(doc);
    }
    char *t = lv_syntax_xhtml_to_text(NULL);
    expect_str("NULL", "text", t, "");
    free(t);
}

/* The walk stays inside the given subtree (a div inside <content>). */
static void test_text_subtree(void **state)
{
    (void)state;
    struct lv_xml *x = raw_parse("<content xmlns='http://www.w3.org/2005/Atom'>"
                                 "<div xmlns='http://www.w3.org/1999/xhtml'>inside</div>"
                                 "<other>outside</other></content>");
    char *t = lv_syntax_xhtml_to_text(lv_xml_first_elem(x));
    expect_str("subtree", "text", t, "inside");
    free(t);
    lv_xml_unref(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown),          cmocka_unit_test(test_markdown_deep),
        cmocka_unit_test(test_text_to_xhtml),     cmocka_unit_test(test_parse_sanitize),
        cmocka_unit_test(test_sanitize_in_place), cmocka_unit_test(test_sanitize_deep),
        cmocka_unit_test(test_parse_errors),      cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_sanitize_depth),    cmocka_unit_test(test_xhtml_to_text),
        cmocka_unit_test(test_text_subtree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
