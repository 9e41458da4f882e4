# deep_val.svg; made by lamina experiment placement (run gnuplot in this directory to redraw)
set terminal svg size 960,600 dynamic noenhanced font 'sans,13' background '#ffffff'
set output 'deep_val.svg'
set datafile separator whitespace
set grid lc rgb '#dddddd'
set key outside right top
set title 'Validation loss during training, 12 layers'
set xlabel 'step'
set ylabel 'validation loss (nats per byte)'
names = 'pre pre pre pre post post post post'
lrs = '0.001 0.003'
warm = '0 200'
plot for [k=0:7] 'deep_val.dat' index k using 1:2 with linespoints lw 2 pt 7-2*((k/2)%2) ps 0.6 lc (k < 4 ? 1 : 2) dt 2-k%2 title sprintf('%s, lr %s, warmup %s', word(names, k+1), word(lrs, (k/2)%2+1), word(warm, k%2+1)), \
     3.1498 with lines dt 3 lc rgb '#888888' title 'unigram baseline'
