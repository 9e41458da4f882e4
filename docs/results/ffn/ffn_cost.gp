# ffn_cost.svg; made by lamina experiment ffn (run gnuplot in this directory to redraw)
set terminal svg size 960,600 dynamic noenhanced font 'sans,13' background '#ffffff'
set output 'ffn_cost.svg'
set datafile separator whitespace
set grid lc rgb '#dddddd'
set key outside right top
set title 'Final validation loss (mean of 2 seeds; bars: the two seeds) against time per step'
set xlabel 'ms per training step (median, 2 threads)'
set ylabel 'validation loss (nats per byte)'
set key off
set offsets graph 0.1, graph 0.15, graph 0.1, graph 0.1
plot 'ffn.dat' using 5:2:(($3<$4)?$3:$4):(($3<$4)?$4:$3) with yerrorbars pt 7 ps 1.2 lw 2 lc 1, \
     'ffn.dat' using 5:2:6 with labels offset 1.5,0.8 left
