/* no_entry.c - a shared object without ride_task_plugin_entry: the host must
 * reject it. */
int ride_test_not_a_plugin(void);

int ride_test_not_a_plugin(void)
{
    return 0;
}
