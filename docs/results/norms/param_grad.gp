# param_grad.svg; made by lamina experiment norms (run gnuplot in this directory to redraw)
set terminal svg size 960,600 dynamic noenhanced font 'sans,13' background '#ffffff'
set output 'param_grad.svg'
set datafile separator whitespace
set grid lc rgb '#dddddd'
set key outside right top
set multiplot layout 2,2 title "Gradient norm of each layer's parameters (before clipping)"
set logscale y
set yrange [0.0475:26.4]
set xlabel 'step'
set ylabel '‖∂loss/∂θ‖'
set palette defined (0 '#1b9e77', 0.5 '#7570b3', 1 '#d95f02')
unset colorbox
set key inside right top font ',9'
L = 6
array names[4] = ['none (diverged at step 26)', 'layernorm', 'rmsnorm', 'batchnorm']
do for [k=0:3] {
  set title names[k+1]
  plot for [i=0:L-1] 'param_grad.dat' index k using 1:(column(i+2)) with lines lw 2 lc palette frac (L > 1 ? i/(L-1.0) : 0) title sprintf('layer %d', i)
}
unset multiplot
