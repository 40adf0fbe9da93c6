/* Replays fuzz inputs without libFuzzer (gcc builds, the unit test suite):
 * each argument is a file, or a directory whose regular files are each
 * passed once to LLVMFuzzerTestOneInput. Prints how many inputs ran.
 * Returns 0, or 1 when an argument cannot be read (so that a mistyped or
 * missing corpus does not pass silently). A crash is the failure signal. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file into a new buffer; NULL on failure. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nbuf = realloc(buf, cap *= 2);
            if (!nbuf)
                free(buf);
            buf = nbuf;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int run_file(const char *path, size_t *ran)
{
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (!data) {
        perror(path);
        return 1;
    }
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    (*ran)++;
    return 0;
}

static int run_dir(const char *dir, size_t *ran)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort); /* sorted: reproducible order */
    if (n < 0) {
        perror(dir);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc |= run_file(path, ran);
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int main(int argc, char **argv)
{
    size_t ran = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            rc |= run_dir(argv[i], &ran);
        else
            rc |= run_file(argv[i], &ran);
    }
    printf("%zu inputs ran\n", ran);
    return rc;
}
