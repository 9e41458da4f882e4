# loss.svg; made by lamina experiment norms (run gnuplot in this directory to redraw)
set terminal svg size 960,600 dynamic noenhanced font 'sans,13' background '#ffffff'
set output 'loss.svg'
set datafile separator whitespace
set grid lc rgb '#dddddd'
set key outside right top
set title 'Training (lines, mean of 25 steps) and validation (points) loss'
set xlabel 'step'
set ylabel 'loss (nats per byte)'
set key inside right top
names = 'none layernorm rmsnorm batchnorm'
plot for [k=0:3] 'loss.dat' index k using 1:2 with lines lw 2 lc k+1 title word(names, k+1), \
     for [k=0:3] 'loss.dat' index k+4 using 1:2 with points pt 7 ps 0.8 lc k+1 notitle, \
     3.1498 with lines dt 2 lc rgb '#888888' title 'unigram baseline'
