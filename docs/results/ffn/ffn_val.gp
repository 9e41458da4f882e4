# ffn_val.svg; made by lamina experiment ffn (run gnuplot in this directory to redraw)
set terminal svg size 960,600 dynamic noenhanced font 'sans,13' background '#ffffff'
set output 'ffn_val.svg'
set datafile separator whitespace
set grid lc rgb '#dddddd'
set key outside right top
set title 'Validation loss during training (solid: seed 1337, dashed: seed 1338)'
set xlabel 'step'
set ylabel 'validation loss (nats per byte)'
names = 'relu gelu gelu_tanh silu swiglu geglu'
plot for [k=0:11] 'ffn_val.dat' index k using 1:2 with lines lw 2 lc k/2+1 dt k%2+1 title (k%2 ? '' : word(names, k/2+1))
