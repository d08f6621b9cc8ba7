/* Unit tests for auth: the key file (every malformed entry named, a file
 * others can read refused), the decision for each scope with and without
 * keys, and the loopback rule for the write scope without keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "auth.h"
#include "tap.h"

#define KEYS "{\"keys\": [{\"name\": \"reader\", \"key\": \"k-read-0123456789\", \"scopes\": [\"search\"]}," \
             " {\"name\": \"writer\", \"key\": \"k-write-0123456789\", \"scopes\": [\"search\", \"write\"]}]}"

static auth *parse(const char *text, char *err, size_t errlen)
{
    auth *a = NULL;

    err[0] = '\0';
    auth_parse(&a, text, strlen(text), err, errlen);
    return a;
}

/* The message parse gives for text, which must be refused. */
static const char *refusal(const char *text)
{
    static char err[256];
    auth *a = parse(text, err, sizeof err);

    if (a) {
        auth_free(&a);
        return "(accepted)";
    }
    return err;
}

static void test_parse(void)
{
    char err[256];
    auth *a = parse(KEYS, err, sizeof err);

    ok(a != NULL, "a well-formed file is accepted (%s)", err);
    auth_free(&a);
    ok(a == NULL, "auth_free clears the pointer");
    is_str(refusal("{\"keys\": []}"),
           "keys: must be a non-empty array of {\"name\", \"key\", \"scopes\"}", "no keys");
    is_str(refusal("{\"keys\": [{\"name\": \"a\", \"key\": \"x1\", \"scopes\": [\"search\"]}, 3]}"),
           "keys[1]: must be an object {\"name\", \"key\", \"scopes\"}", "an entry that is not an object");
    is_str(refusal("{\"keys\": [{\"key\": \"x1\", \"scopes\": [\"search\"]}]}"),
           "keys[0].name: required", "a missing name");
    is_str(refusal("{\"keys\": [{\"name\": \"a\", \"key\": \"\", \"scopes\": [\"search\"]}]}"),
           "keys[0].key: must be a non-empty string without spaces", "an empty key");
    is_str(refusal("{\"keys\": [{\"name\": \"a\", \"key\": \"x1\", \"scopes\": [\"search\", \"wirte\"]}]}"),
           "keys[0].scopes[1]: must be \"search\", \"write\" or \"admin\"", "an unknown scope");
    is_str(refusal("{\"keys\": [{\"name\": \"a\", \"key\": \"x1\"}]}"), "keys[0].scopes: required",
           "missing scopes");
    is_str(refusal("{\"keys\": [{\"name\": \"a\", \"key\": \"x1\", \"scopes\": [\"search\"], \"ttl\": 3}]}"),
           "keys[0].ttl: unknown field", "an unknown field");
    is_str(refusal("{\"keys\": [{\"name\": \"a\", \"key\": \"x1\", \"scopes\": [\"search\"]},"
                   " {\"name\": \"b\", \"key\": \"x1\", \"scopes\": [\"write\"]}]}"),
           "keys[1].key: the same key as keys[0]", "a key given twice");
    ok(strstr(refusal("{\"keys\": [{\"name\": \"a\", \"key\": \"secret-x1\", \"scopes\": [\"nope\"]}]}"),
              "secret-x1") == NULL, "a message never shows a key");
    ok(strncmp(refusal("{\"keys\": ["), "line 1:", 7) == 0, "invalid JSON names the line");
}

static void test_decide_keys(void)
{
    char err[256];
    auth *a = parse(KEYS, err, sizeof err);
    auth_verdict v;

    is_int(auth_decide(a, NULL, AUTH_SEARCH, &v), 401, "no Authorization: 401");
    is_str(v.code, "unauthorized", "code unauthorized");
    is_int(auth_decide(a, "Basic abc", AUTH_SEARCH, &v), 401, "not Bearer: 401");
    is_int(auth_decide(a, "Bearer k-read-012345678", AUTH_SEARCH, &v), 401, "a prefix of a key: 401");
    is_int(auth_decide(a, "Bearer k-read-0123456789x", AUTH_SEARCH, &v), 401, "a key and more: 401");
    is_int(auth_decide(a, "Bearer ", AUTH_SEARCH, &v), 401, "an empty key: 401");
    is_int(auth_decide(a, "Bearer k-read-0123456789", AUTH_SEARCH, &v), 0, "search key, search: ok");
    is_int(auth_decide(a, "bearer k-read-0123456789", AUTH_SEARCH, &v), 0, "the scheme is case-insensitive");
    is_int(auth_decide(a, "Bearer k-read-0123456789", AUTH_WRITE, &v), 403, "search key, write: 403");
    is_str(v.message, "this API key lacks the \"write\" scope", "the 403 names the scope");
    is_int(auth_decide(a, "Bearer k-write-0123456789", AUTH_WRITE, &v), 0, "write key, write: ok");
    is_int(auth_decide(a, "Bearer k-write-0123456789", AUTH_ADMIN, &v), 403, "admin is its own scope");
    auth_free(&a);
}

static void test_decide_open(void)
{
    char err[256];
    auth *a = NULL;
    auth_verdict v;
    struct sockaddr_in lo = {.sin_family = AF_INET}, any = {.sin_family = AF_INET};

    lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    ok(auth_load(&a, NULL, err, sizeof err) == 0, "no file: no keys");
    auth_set_listen(a, (struct sockaddr *)&any);
    is_int(auth_decide(a, NULL, AUTH_SEARCH, &v), 0, "no keys: search is open");
    is_int(auth_decide(a, NULL, AUTH_WRITE, &v), 403, "no keys, listening on 0.0.0.0: write is 403");
    ok(strstr(v.message, "--api-keys FILE") != NULL, "the 403 says how to configure keys: %s", v.message);
    is_int(auth_decide(a, "Bearer whatever", AUTH_WRITE, &v), 403, "a key changes nothing when none are configured");
    auth_set_listen(a, (struct sockaddr *)&lo);
    is_int(auth_decide(a, NULL, AUTH_WRITE, &v), 0, "no keys, listening on 127.0.0.1: write is allowed");
    is_int(auth_decide(a, NULL, AUTH_ADMIN, &v), 403, "admin is never open");
    auth_free(&a);
}

static int loopback6(const char *text)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};

    inet_pton(AF_INET6, text, &a.sin6_addr);
    return auth_is_loopback((struct sockaddr *)&a);
}

static int loopback4(const char *text)
{
    struct sockaddr_in a = {.sin_family = AF_INET};

    inet_pton(AF_INET, text, &a.sin_addr);
    return auth_is_loopback((struct sockaddr *)&a);
}

static void test_loopback(void)
{
    ok(loopback4("127.0.0.1") && loopback4("127.1.2.3"), "127.0.0.0/8 is loopback");
    ok(!loopback4("0.0.0.0") && !loopback4("10.0.0.1") && !loopback4("128.0.0.1"),
       "0.0.0.0 and other addresses are not");
    ok(loopback6("::1") && loopback6("::ffff:127.0.0.1"), "::1 and a mapped 127.x are loopback");
    ok(!loopback6("::") && !loopback6("fe80::1") && !loopback6("::ffff:10.0.0.1"),
       ":: and other v6 addresses are not");
}

static void test_file(void)
{
    char path[] = "/tmp/ragd-test-auth.XXXXXX", err[512];
    int fd = mkstemp(path);
    auth *a = NULL;

    ok(fd >= 0 && write(fd, KEYS, strlen(KEYS)) == (ssize_t)strlen(KEYS), "a key file");
    fchmod(fd, 0600);
    ok(auth_load(&a, path, err, sizeof err) == 0, "mode 0600 is accepted (%s)", err);
    auth_free(&a);
    fchmod(fd, 0640);
    ok(auth_load(&a, path, err, sizeof err) != 0 && a == NULL, "mode 0640 is refused");
    ok(strstr(err, "readable by other users") && strstr(err, path), "it says so: %s", err);
    fchmod(fd, 0604);
    ok(auth_load(&a, path, err, sizeof err) != 0, "mode 0604 is refused");
    close(fd);
    unlink(path);
    ok(auth_load(&a, path, err, sizeof err) != 0 && strstr(err, path), "a missing file: %s", err);
}

int main(void)
{
    test_parse();
    test_decide_keys();
    test_decide_open();
    test_loopback();
    test_file();
    return tap_done();
}
