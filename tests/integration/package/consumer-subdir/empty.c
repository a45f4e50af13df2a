/* A parent project's own library, named "support" like many are. */
int consumer_subdir_support(void)
{
    return 0;
}
