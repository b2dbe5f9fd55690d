# Sourced by tests that check what a process leaves behind (test_demo*.sh):
#   descendants PID   every descendant of PID, children first, one a line
#   cmdline PID       its command line, words separated by spaces ("" when
#                     gone)
descendants() {
    local c
    for c in $(pgrep -P "$1" 2> /dev/null); do
        echo "$c"
        descendants "$c"
    done
}
cmdline() { { tr '\0' ' ' < "/proc/$1/cmdline"; } 2> /dev/null; }
