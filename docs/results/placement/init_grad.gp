# init_grad.svg; made by lamina experiment placement (run gnuplot in this directory to redraw)
set terminal svg size 960,600 dynamic noenhanced font 'sans,13' background '#ffffff'
set output 'init_grad.svg'
set datafile separator whitespace
set grid lc rgb '#dddddd'
set key outside right top
set title 'Gradient norm of each layer''s MLP weights at initialization (one batch)'
set xlabel 'layer'
set ylabel '‖∂loss/∂W_ffn‖'
set logscale y
depths = '2 6 12'
plot for [k=0:5] 'init_grad.dat' index k using 1:2 with linespoints lw 2 pt 7 lc (k < 3 ? 1 : 2) dt 3-k%3 title sprintf('%s-LN, %s layers', k < 3 ? 'pre' : 'post', word(depths, k % 3 + 1))
