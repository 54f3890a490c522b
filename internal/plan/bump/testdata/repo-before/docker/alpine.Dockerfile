FROM nginx:1.26.3-alpine
ARG NGINX_VERSION="1.26.3"
RUN echo built for 1.26.3
