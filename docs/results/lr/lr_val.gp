# lr_val.svg; made by lamina experiment lr (run gnuplot in this directory to redraw)
set terminal svg size 960,600 dynamic noenhanced font 'sans,13' background '#ffffff'
set output 'lr_val.svg'
set datafile separator whitespace
set grid lc rgb '#dddddd'
set key outside right top
set title 'Final validation loss against peak learning rate (missing points diverged)'
set xlabel 'peak learning rate'
set ylabel 'validation loss (nats per byte)'
set logscale x
names = 'none pre-LN post-LN'
plot for [k=0:2] 'lr_val.dat' index k using 1:2 with linespoints lw 2 pt 7 lc k+1 title word(names, k+1), \
     3.1498 with lines dt 3 lc rgb '#888888' title 'unigram baseline', \
     2.5337 with lines dt 2 lc rgb '#bbbbbb' title 'trains below this line'
