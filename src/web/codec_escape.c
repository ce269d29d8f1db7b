/* HTML and JSON escaping (Tornado's xhtml_escape, xhtml_unescape and the
 * string part of json_encode). Pure: no I/O, no allocation. */
#include <string.h>

#include "squall/codec.h"

int sq_xhtml_escape(const char *in, size_t len, char *out, size_t cap, size_t *out_len) {
    size_t need = 0;
    for (size_t i = 0; i < len; i++) {
        switch (in[i]) {
        case '&': need += 5; break; /* &amp; */
        case '<':
        case '>': need += 4; break;  /* &lt; &gt; */
        case '"': need += 6; break;  /* &quot; */
        case '\'': need += 5; break; /* &#39; */
        default: need += 1; break;
        }
    }
    *out_len = need;
    if (need > cap) return SQ_ELIMIT;
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        switch (in[i]) {
        case '&': memcpy(o, "&amp;", 5), o += 5; break;
        case '<': memcpy(o, "&lt;", 4), o += 4; break;
        case '>': memcpy(o, "&gt;", 4), o += 4; break;
        case '"': memcpy(o, "&quot;", 6), o += 6; break;
        case '\'': memcpy(o, "&#39;", 5), o += 5; break;
        default: *o++ = in[i]; break;
        }
    }
    return 0;
}

/* Python's html.entities.name2codepoint (the HTML 4 entities), sorted by
 * name in byte order for a binary search. */
static const struct entity {
    char name[9];
    uint16_t cp;
} entities[] = {
    {"AElig", 198},   {"Aacute", 193},  {"Acirc", 194},   {"Agrave", 192},  {"Alpha", 913},
    {"Aring", 197},   {"Atilde", 195},  {"Auml", 196},    {"Beta", 914},    {"Ccedil", 199},
    {"Chi", 935},     {"Dagger", 8225}, {"Delta", 916},   {"ETH", 208},     {"Eacute", 201},
    {"Ecirc", 202},   {"Egrave", 200},  {"Epsilon", 917}, {"Eta", 919},     {"Euml", 203},
    {"Gamma", 915},   {"Iacute", 205},  {"Icirc", 206},   {"Igrave", 204},  {"Iota", 921},
    {"Iuml", 207},    {"Kappa", 922},   {"Lambda", 923},  {"Mu", 924},      {"Ntilde", 209},
    {"Nu", 925},      {"OElig", 338},   {"Oacute", 211},  {"Ocirc", 212},   {"Ograve", 210},
    {"Omega", 937},   {"Omicron", 927}, {"Oslash", 216},  {"Otilde", 213},  {"Ouml", 214},
    {"Phi", 934},     {"Pi", 928},      {"Prime", 8243},  {"Psi", 936},     {"Rho", 929},
    {"Scaron", 352},  {"Sigma", 931},   {"THORN", 222},   {"Tau", 932},     {"Theta", 920},
    {"Uacute", 218},  {"Ucirc", 219},   {"Ugrave", 217},  {"Upsilon", 933}, {"Uuml", 220},
    {"Xi", 926},      {"Yacute", 221},  {"Yuml", 376},    {"Zeta", 918},    {"aacute", 225},
    {"acirc", 226},   {"acute", 180},   {"aelig", 230},   {"agrave", 224},  {"alefsym", 8501},
    {"alpha", 945},   {"amp", 38},      {"and", 8743},    {"ang", 8736},    {"aring", 229},
    {"asymp", 8776},  {"atilde", 227},  {"auml", 228},    {"bdquo", 8222},  {"beta", 946},
    {"brvbar", 166},  {"bull", 8226},   {"cap", 8745},    {"ccedil", 231},  {"cedil", 184},
    {"cent", 162},    {"chi", 967},     {"circ", 710},    {"clubs", 9827},  {"cong", 8773},
    {"copy", 169},    {"crarr", 8629},  {"cup", 8746},    {"curren", 164},  {"dArr", 8659},
    {"dagger", 8224}, {"darr", 8595},   {"deg", 176},     {"delta", 948},   {"diams", 9830},
    {"divide", 247},  {"eacute", 233},  {"ecirc", 234},   {"egrave", 232},  {"empty", 8709},
    {"emsp", 8195},   {"ensp", 8194},   {"epsilon", 949}, {"equiv", 8801},  {"eta", 951},
    {"eth", 240},     {"euml", 235},    {"euro", 8364},   {"exist", 8707},  {"fnof", 402},
    {"forall", 8704}, {"frac12", 189},  {"frac14", 188},  {"frac34", 190},  {"frasl", 8260},
    {"gamma", 947},   {"ge", 8805},     {"gt", 62},       {"hArr", 8660},   {"harr", 8596},
    {"hearts", 9829}, {"hellip", 8230}, {"iacute", 237},  {"icirc", 238},   {"iexcl", 161},
    {"igrave", 236},  {"image", 8465},  {"infin", 8734},  {"int", 8747},    {"iota", 953},
    {"iquest", 191},  {"isin", 8712},   {"iuml", 239},    {"kappa", 954},   {"lArr", 8656},
    {"lambda", 955},  {"lang", 9001},   {"laquo", 171},   {"larr", 8592},   {"lceil", 8968},
    {"ldquo", 8220},  {"le", 8804},     {"lfloor", 8970}, {"lowast", 8727}, {"loz", 9674},
    {"lrm", 8206},    {"lsaquo", 8249}, {"lsquo", 8216},  {"lt", 60},       {"macr", 175},
    {"mdash", 8212},  {"micro", 181},   {"middot", 183},  {"minus", 8722},  {"mu", 956},
    {"nabla", 8711},  {"nbsp", 160},    {"ndash", 8211},  {"ne", 8800},     {"ni", 8715},
    {"not", 172},     {"notin", 8713},  {"nsub", 8836},   {"ntilde", 241},  {"nu", 957},
    {"oacute", 243},  {"ocirc", 244},   {"oelig", 339},   {"ograve", 242},  {"oline", 8254},
    {"omega", 969},   {"omicron", 959}, {"oplus", 8853},  {"or", 8744},     {"ordf", 170},
    {"ordm", 186},    {"oslash", 248},  {"otilde", 245},  {"otimes", 8855}, {"ouml", 246},
    {"para", 182},    {"part", 8706},   {"permil", 8240}, {"perp", 8869},   {"phi", 966},
    {"pi", 960},      {"piv", 982},     {"plusmn", 177},  {"pound", 163},   {"prime", 8242},
    {"prod", 8719},   {"prop", 8733},   {"psi", 968},     {"quot", 34},     {"rArr", 8658},
    {"radic", 8730},  {"rang", 9002},   {"raquo", 187},   {"rarr", 8594},   {"rceil", 8969},
    {"rdquo", 8221},  {"real", 8476},   {"reg", 174},     {"rfloor", 8971}, {"rho", 961},
    {"rlm", 8207},    {"rsaquo", 8250}, {"rsquo", 8217},  {"sbquo", 8218},  {"scaron", 353},
    {"sdot", 8901},   {"sect", 167},    {"shy", 173},     {"sigma", 963},   {"sigmaf", 962},
    {"sim", 8764},    {"spades", 9824}, {"sub", 8834},    {"sube", 8838},   {"sum", 8721},
    {"sup", 8835},    {"sup1", 185},    {"sup2", 178},    {"sup3", 179},    {"supe", 8839},
    {"szlig", 223},   {"tau", 964},     {"there4", 8756}, {"theta", 952},   {"thetasym", 977},
    {"thinsp", 8201}, {"thorn", 254},   {"tilde", 732},   {"times", 215},   {"trade", 8482},
    {"uArr", 8657},   {"uacute", 250},  {"uarr", 8593},   {"ucirc", 251},   {"ugrave", 249},
    {"uml", 168},     {"upsih", 978},   {"upsilon", 965}, {"uuml", 252},    {"weierp", 8472},
    {"xi", 958},      {"yacute", 253},  {"yen", 165},     {"yuml", 255},    {"zeta", 950},
    {"zwj", 8205},    {"zwnj", 8204},
};

static int entity_lookup(const char *s, size_t n) {
    size_t lo = 0, hi = sizeof entities / sizeof *entities;
    if (n > 8) return -1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *e = entities[mid].name;
        size_t el = strlen(e);
        int c = memcmp(s, e, n < el ? n : el);
        if (c == 0) c = n < el ? -1 : n > el ? 1 : 0;
        if (c == 0) return entities[mid].cp;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

static bool word_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int digit_val(unsigned char c, int base) {
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'z' ? c - 'a' + 10
            : c >= 'A' && c <= 'Z' ? c - 'A' + 10
                                   : 99;
    return v < base ? v : -1;
}

/* Python's int(s, base) for base 10 or 16 on a string of word characters:
 * digits with single underscores between them and, in base 16, an optional
 * 0x prefix that an underscore may follow. Returns the value, or -1 when
 * Python raises or the value is above U+10FFFF (where chr() raises). */
static int64_t py_int_cp(const char *s, size_t n, int base) {
    size_t i = 0;
    bool prev_digit = false;
    if (base == 16 && n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        i = 2;
        if (i < n && s[i] == '_') i++;
        /* "0x_" must still be followed by a digit; handled below. */
    }
    if (i == n) return -1;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] == '_') {
            if (!prev_digit || i + 1 == n) return -1;
            prev_digit = false;
            continue;
        }
        int d = digit_val((unsigned char)s[i], base);
        if (d < 0) return -1;
        prev_digit = true;
        if (v <= 0x10FFFF) v = v * base + d;
    }
    if (!prev_digit) return -1;
    return v > 0x10FFFF ? -1 : v;
}

static size_t utf8_put(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 63));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 63));
        o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 63));
    o[2] = (char)(0x80 | (cp >> 6 & 63));
    o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

size_t sq_xhtml_unescape(const char *in, size_t len, char *out) {
    /* re.sub(r"&(#?)(\w+?);", ...): a reference is '&', an optional '#', a
     * run of word characters and ';'. One that converts is never shorter
     * than its UTF-8 (the shortest, "&lt;", is four bytes for one; the
     * longest code point, "&#x10FFFF;", ten for four), so the output never
     * passes the input and in place is safe. One that does not convert is
     * copied as it is. */
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (in[i] == '&') {
            size_t j = i + 1;
            bool num = j < len && in[j] == '#';
            if (num) j++;
            size_t k = j;
            while (k < len && word_char((unsigned char)in[k]))
                k++;
            if (k > j && k < len && in[k] == ';') {
                int64_t cp;
                if (!num)
                    cp = entity_lookup(in + j, k - j);
                else if (in[j] == 'x' || in[j] == 'X')
                    cp = py_int_cp(in + j + 1, k - j - 1, 16);
                else
                    cp = py_int_cp(in + j, k - j, 10);
                /* A surrogate would be a lone one, which UTF-8 cannot hold. */
                if (cp >= 0 && !(cp >= 0xd800 && cp <= 0xdfff)) {
                    char tmp[4];
                    size_t n = utf8_put(tmp, (uint32_t)cp);
                    memcpy(out + o, tmp, n);
                    o += n;
                    i = k + 1;
                    continue;
                }
            }
        }
        out[o++] = in[i++];
    }
    return o;
}

/* Decodes one UTF-8 character at s (n > 0 bytes left), strictly; returns
 * its length and sets *cp, or 0 when the bytes are not valid UTF-8. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    uint32_t v;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1, v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2, v = c & 0x0f;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3, v = c & 0x07;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (n <= need || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 1; k <= need; k++) {
        if (s[k] < 0x80 || s[k] > 0xbf) return 0;
        v = v << 6 | (s[k] & 0x3f);
    }
    *cp = v;
    return need + 1;
}

int sq_json_escape(const char *in, size_t len, char *out, size_t cap, size_t *out_len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    /* Two passes with one body: measure, then write when it fits. */
    for (int pass = 0; pass < 2; pass++) {
        size_t o = 0;
        uint32_t prev = 0;
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t n = utf8_next(s + i, len - i, &cp);
            if (!n) {
                *out_len = 0;
                return SQ_EINVAL;
            }
            i += n;
            char e[12];
            size_t el = 0;
            switch (cp) {
            case '"': e[0] = '\\', e[1] = '"', el = 2; break;
            case '\\': e[0] = '\\', e[1] = '\\', el = 2; break;
            case '\n': e[0] = '\\', e[1] = 'n', el = 2; break;
            case '\r': e[0] = '\\', e[1] = 'r', el = 2; break;
            case '\t': e[0] = '\\', e[1] = 't', el = 2; break;
            case '\b': e[0] = '\\', e[1] = 'b', el = 2; break;
            case '\f': e[0] = '\\', e[1] = 'f', el = 2; break;
            case '/':
                /* Tornado's .replace("</", "<\\/"): '<' only ever comes out
                 * of a literal '<', so look at the previous character. */
                if (prev == '<')
                    e[0] = '\\', e[1] = '/', el = 2;
                else
                    e[0] = '/', el = 1;
                break;
            default:
                if (cp >= 0x20 && cp <= 0x7e) {
                    e[0] = (char)cp, el = 1;
                } else {
                    uint32_t u[2] = {cp, 0};
                    int nu = 1;
                    if (cp > 0xffff) {
                        uint32_t c2 = cp - 0x10000;
                        u[0] = 0xd800 | c2 >> 10, u[1] = 0xdc00 | (c2 & 0x3ff), nu = 2;
                    }
                    for (int k = 0; k < nu; k++) {
                        e[el++] = '\\', e[el++] = 'u';
                        e[el++] = hex[u[k] >> 12], e[el++] = hex[u[k] >> 8 & 15];
                        e[el++] = hex[u[k] >> 4 & 15], e[el++] = hex[u[k] & 15];
                    }
                }
                break;
            }
            prev = cp;
            if (pass == 1) memcpy(out + o, e, el);
            o += el;
        }
        if (pass == 0) {
            *out_len = o;
            if (o > cap) return SQ_ELIMIT;
        }
    }
    return 0;
}
