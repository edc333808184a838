# bench/bench.png from bench/run.sh's session rows (gnuplot -e "dir='bench/out'" bench/plot.gp)
set terminal pngcairo size 1400,1350 font ",10"
set output "bench/bench.png"
set datafile separator "\t"
set key top left
set grid
set multiplot layout 3,2 title "deltawire vs direct (loopback, deltawire-mock upstream)"
set xlabel "turn"
set logscale y
set ylabel "bytes sent upstream per turn"
set title "Codex-like session (30 KB prefix, ~1 KB/turn)"
plot dir."/session-codex.tsv" every ::1 using 1:2 with lines lw 2 title "direct (HTTP body)", \
     "" every ::1 using 1:4 with lines lw 2 title "through deltawire (WS frame)", \
     "" every ::1 using 1:3 with lines dt 2 lw 2 title "floor"
set title "Large tool outputs, history grows to 4 MB"
plot dir."/session-large4m.tsv" every ::1 using 1:2 with lines lw 2 title "direct (HTTP body)", \
     "" every ::1 using 1:4 with lines lw 2 title "through deltawire (WS frame)", \
     "" every ::1 using 1:3 with lines dt 2 lw 2 title "floor"
unset logscale y
set ylabel "time to last byte (ms)"
set title "Codex-like session: time to last byte per turn"
plot dir."/session-codex.tsv" every ::1 using 1:($7/1e6) with lines title "direct", \
     "" every ::1 using 1:($9/1e6) with lines title "through deltawire"
set title "4 MB session: time to last byte per turn"
plot dir."/session-large4m.tsv" every ::1 using 1:($7/1e6) with lines title "direct", \
     "" every ::1 using 1:($9/1e6) with lines title "through deltawire"
set title "Proxy CPU per response vs events (8 B deltas, mean; bench/wsecho upstream)"
set logscale xy
set xlabel "events per response"
set ylabel "CPU per response (µs)"
plot dir."/events-summary.tsv" every ::1 using 1:2 with linespoints lw 2 title "nginx (HTTP SSE)", \
     "" every ::1 using 1:3 with linespoints lw 2 title "deltawire (WebSocket upstream, permessage-deflate)", \
     "" every ::1 using 1:4 with linespoints lw 2 title "deltawire (--upstream-deflate off)"
unset logscale
set xlabel "turn"
set ylabel "time to last byte (ms)"
set title "Codex-like session over the emulated link (20 Mbit/s up, 40 ms RTT)"
plot dir."/link-codex.tsv" every ::1 using 1:($7/1e6) with lines title "direct", \
     "" every ::1 using 1:($9/1e6) with lines title "deltawire sidecar"
unset multiplot
