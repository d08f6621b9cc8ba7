/*
 * fuzz_config -- the `ragd serve` config file, read through config_from_args
 * as `ragd serve --config FILE` reads it.
 *
 * config only reads files, so each input is written to an in-memory file
 * (memfd) and named by its /proc/self/fd path: no disk, nothing to clean up.
 * Checks, beyond the sanitizers: a refused config says why, and an
 * accepted one has every default filled in.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static int fuzz_fd = -1;
static char fuzz_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if ((fuzz_fd = memfd_create("fuzz_config", 0)) < 0)
        abort();
    snprintf(fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char arg0[] = "serve", arg1[] = "--config";
    char *argv[] = {arg0, arg1, fuzz_path, NULL};
    char err[512] = "";
    config c;
    int rc;

    if (ftruncate(fuzz_fd, 0) != 0 || pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
        abort();
    rc = config_from_args(&c, 3, argv, err, sizeof err);
    fuzz_check(rc == 0 || rc == -1);
    if (rc == 0) {
        fuzz_check(c.listen && c.plugin_dir && c.llm_model);
        fuzz_check(c.db || json_is_array(c.sources));
        fuzz_check(c.timeout_ms >= 1 && c.timeout_ms <= CONFIG_MAX_TIMEOUT_MS);
    } else {
        fuzz_check(err[0] != '\0');
    }
    config_release(&c);
    return 0;
}
